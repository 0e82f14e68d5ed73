import type { PartitionKeyRange } from "@baton/core";

/** Everything a runtime is told when the suite starts: where the fixtures are and their env. */
export interface HarnessEnvironment {
  /** Compiled ESM module whose default export is the fixture definitions. */
  readonly fixtureModule: string;
  readonly exportName: string;
  /**
   * The IO store the runtime must use: the BATON_STORAGE value (also in `env`), a local folder
   * (`storageDir`) or `s3://<bucket>/<prefix unique to this run>`. Scanned for the canary secrets.
   * Harnesses pass this (or `env.BATON_STORAGE`) to the runtime, never `storageDir`.
   */
  readonly storage: string;
  /**
   * A local folder. On local runs it is the store (`storage` equals it); on s3 runs nothing may be
   * written under it: the suite asserts that, so a runtime that silently falls back to a folder fails.
   */
  readonly storageDir: string;
  /**
   * A scratch folder for the runtime's own files (projects, homes, databases, logs). Every file under it
   * is scanned for the canary secret by the `secrets` cases: the orchestrator must not store it.
   */
  readonly workDir: string;
  /**
   * Where a harness puts files that hold the secret **by design** (an env file, a connections file the
   * user would write). Not scanned; outside workDir and storageDir.
   */
  readonly configDir: string;
  /**
   * Variables the runtime must place in the environment of every step (BATON_STORAGE, resource config;
   * on s3 runs also the store's AWS_* variables, whose AWS_SECRET_ACCESS_KEY is a canary like FIXTURE_API_TOKEN;
   * with capability icebergOutput the catalog's ICEBERG_* variables, whose ICEBERG_S3_SECRET_ACCESS_KEY is a canary too).
   */
  readonly env: Readonly<Record<string, string>>;
}

export type CaseStatus = "success" | "failure" | "skipped";

/** A materialization as the orchestrator itself recorded it (never inferred from the IO store). */
export interface HarnessMaterialization {
  readonly asset: string;
  readonly partitionKey: string | null;
  /**
   * The materialization's user metadata as the orchestrator recorded it (the asset's declared `metadata`, then
   * what its compute returned through `withMetadata(frame, {...})`), JSON values as Baton wrote them: Dagster's
   * materialization metadata values, Airflow's asset event `extra["metadata"]`, Prefect's asset event /
   * materialization metadata; embedded: `materializations[].metadata.user` of the CLI's JSON result.
   * Baton's own keys (row count, schema, content hash, path…) may be left out. Capability `metadata`.
   */
  readonly metadata?: Readonly<Record<string, unknown>>;
  /**
   * For an asset stored in a table (`io: { format: "iceberg" }`, TABLE-OUTPUT-CONTRACT.md §6): the table and the
   * snapshot as the orchestrator recorded them on the materialization: Dagster's `dagster/table_name` and
   * `iceberg/snapshot_id`, Airflow's asset event `extra["table"]` and `extra["snapshot_id"]`, Prefect's materialization
   * metadata `table` and `snapshot_id`; embedded: `materializations[].metadata.table` of the CLI's JSON result. The
   * snapshot id is the decimal text Baton wrote (never a JS number: 64-bit ids do not fit). Absent for file outputs.
   * Capability `icebergOutput`.
   */
  readonly table?: { readonly name: string; readonly snapshotId: string };
}

/**
 * A run as the suite compares it; every runtime reads this back from its orchestrator's own records
 * (Dagster's event log and run/step status, Airflow's DAG-run and task-instance states and asset events,
 * Prefect's flow-/task-run states and asset events; embedded: the CLI's `--json` result).
 */
export interface HarnessRun {
  /** The orchestrator's run status. */
  readonly status: "success" | "failure";
  readonly assets: Readonly<
    Record<
      string,
      {
        /** The orchestrator's own per-asset (step/task) status. */
        readonly status: CaseStatus;
        /** Attempts the runtime made (1 = no retry). */
        readonly attempts: number;
        /** The failure message as the runtime reported it, when it failed. */
        readonly error?: string | null;
      }
    >
  >;
  readonly checks: readonly { readonly asset: string; readonly check: string; readonly passed: boolean; readonly partitionKey: string | null }[];
  /** Every materialization the orchestrator recorded for this run (one per asset and partition key). */
  readonly materializations: readonly HarnessMaterialization[];
  /**
   * Everything the orchestrator stored about the run as text: logs, event payloads, state messages,
   * XComs, database rows, compute logs, the step's stdout/stderr as the orchestrator kept them.
   */
  readonly recordsText: string;
}

export interface HarnessTick {
  readonly runRequests: readonly { readonly assets: readonly string[]; readonly partitionKey: string | null; readonly runKey: string | null }[];
  readonly cursor: string | null;
  readonly skipReason: string | null;
  /** Everything the orchestrator stored about the tick as text (tick records, logs, cursors). */
  readonly recordsText: string;
}

export interface MaterializeRequest {
  /** Asset ids, already resolved; the runtime runs exactly these (their upstreams are stored). */
  readonly assets: readonly string[];
  readonly partitionKey?: string;
  readonly partitionRange?: PartitionKeyRange;
  /**
   * When this asset's step has started, cancel the run the way a user of the runtime would (embedded:
   * SIGINT to the CLI; Dagster: terminate the run; Airflow: SIGTERM the task runner; Prefect: cancel the
   * flow run), then report the run as the orchestrator recorded it. Capability `cancellation`.
   * Fixtures that can be cancelled write `startedMarker(environment, asset)` when their compute starts.
   */
  readonly cancelAfterStart?: string;
}

/**
 * Run only these checks (inline or standalone) against the stored outputs, materializing nothing, as the
 * orchestrator's user would (CHECKS-CONTRACT.md §3, §4): `baton check --check …`, a Dagster run selecting only the
 * `AssetCheckKey`s, an Airflow re-run of just the check tasks, a Prefect flow run of just these checks.
 * Capability `standaloneChecks`.
 */
export interface CheckRequest {
  readonly checks: readonly { readonly asset: string; readonly check: string }[];
  /** The targets' partition key (every listed check's target is partitioned when it is given). */
  readonly partitionKey?: string;
}

/**
 * What a runtime implements to be held to the suite. Outputs are read back from the IO store by
 * the suite itself: the store is part of the contract, not of the runtime.
 */
export interface RuntimeHarness {
  readonly name: string;
  setup(environment: HarnessEnvironment): Promise<void>;
  materialize(request: MaterializeRequest): Promise<HarnessRun>;
  /** Evaluate schedule `name` as the runtime would at time `at`. */
  scheduleTick(name: string, at: Date): Promise<HarnessTick>;
  /** Evaluate sensor `name` once with the given stored cursor, as the runtime would. */
  sensorTick(name: string, cursor: string | null): Promise<HarnessTick>;
  /**
   * Run just the requested checks against stored outputs (see `CheckRequest`). The returned run's
   * `materializations` must be empty (nothing was materialized), its `checks` the verdicts as recorded, and its
   * `status` "failure" iff an error-severity check failed or could not run (a missing stored input).
   * Capability `standaloneChecks`.
   */
  runChecks?(request: CheckRequest): Promise<HarnessRun>;
  teardown(): Promise<void>;
}

export const CAPABILITIES = [
  "materialize",
  "arrow",
  "sideEffects",
  "resources",
  "partitions",
  "partitionRanges",
  "partitionMappings",
  "staticPartitions",
  "retries",
  "failures",
  "checks",
  "schedules",
  "sensors",
  /** The orchestrator's records tell what happened: error checks, partial multi-asset failure, early exit. */
  "truth",
  /** The canary secret appears in none of the orchestrator's records, logs or files. */
  "secrets",
  /** `MaterializeRequest.cancelAfterStart`. */
  "cancellation",
  /** Autumn-DST hourly keys (`…-01:00` and `…-01:00-0500`) and the 25-hour day. */
  "dst",
  /** Deterministic failures are not retried; transient ones follow the retry policy. */
  "retryClasses",
  /** `.`, `..`, the reserved folder name and newlines as partition keys are refused before anything runs. */
  "hostileKeys",
  /** A schedule tick after its partitions end skips with a reason. */
  "scheduleEnd",
  /** An asset past its `timeoutSeconds` (a synchronous spin, a promise that never settles) fails saying it timed out, writes nothing, blocks downstream. */
  "timeouts",
  /** A sensor's `log` calls reach the orchestrator's record of the tick (`HarnessTick.recordsText`). */
  "tickLogs",
  /** `withMetadata(frame, {...})` reaches the orchestrator's record of the materialization (`HarnessMaterialization.metadata`). */
  "metadata",
  /**
   * Standalone checks (`assetCheck()`, CHECKS-CONTRACT.md): in a materialization they run after their target and
   * inputs, record each verdict, block no asset, and fail the run iff an error-severity one failed; and
   * `RuntimeHarness.runChecks` runs chosen checks alone against stored outputs.
   */
  "standaloneChecks",
  /**
   * Assets stored in Iceberg tables (TABLE-OUTPUT-CONTRACT.md §7): the suite starts moto and the REST catalog and puts
   * the `ICEBERG_*` variables in `environment.env`; outputs, downstream reads of the pinned snapshot, pyiceberg's
   * read, partition replaces, and `HarnessMaterialization.table`.
   */
  "icebergOutput",
] as const;
export type Capability = (typeof CAPABILITIES)[number];
