import type pl from "nodejs-polars";
import type { AssetCheck, AssetContext, AssetDefinition, CheckResult, Logger, MetadataValue } from "../asset.js";
import type { AssetCheckDefinition } from "../asset-check.js";
import { allChecksOf, type Definitions } from "../definitions.js";
import { BatonError, StepCancelled } from "../errors.js";
import { materializeCommand, type IOStore, type OutputRecord } from "../io/store.js";
import { openStore } from "../io/open.js";
import { isArrowTable, isPolarsFrame, toKind, toPolars } from "../io/frames.js";
import { assertPartitionKey, defaultMapping, keysInRange, partitionKeys, timeWindowOfKeys, upstreamKeys } from "../partitions/index.js";
import type { PartitionKeyRange } from "../partitions/types.js";
import { buildResources, redactorOf, stepResourceKeys, stepSecrets, type BuiltResources } from "./resources.js";
import { tableResolver, type TableResolver, type TableSink } from "../io/table-sink.js";
import { checkPartitionColumn } from "../io/table-output.js";
import { redactDeep, redactError, serializeError, type LogLevel, type SerializedError, type StepEvent } from "./events.js";
import { redactProcessOutput } from "./output.js";
import { declaredAt } from "../source.js";
import { inputsProxy } from "../inputs-proxy.js";
import { unwrapOutput } from "../with-metadata.js";
import { startAttempt, type Attempt } from "./timeout.js";
import type { TimeoutWatchdog } from "./watchdog.js";
import { groupWave, runGroupKey, type GroupOutcome } from "./group.js";

export interface StepOptions {
  readonly definitions: Definitions;
  /** Asset ids to run, in any order; they run in dependency order. */
  readonly assets: readonly string[];
  readonly partitionKey?: string | undefined;
  readonly partitionRange?: PartitionKeyRange | undefined;
  readonly runId: string;
  readonly retryNumber?: number;
  /** Where outputs go; by default the store BATON_STORAGE (of `env`) names. */
  readonly store?: IOStore;
  /** Where resource config is read from; process.env by default. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Ready-made resource instances that replace the definitions' factories (tests, notebooks). */
  readonly resources?: Readonly<Record<string, unknown>>;
  readonly onEvent: (event: StepEvent) => void;
  readonly now?: Date;
  /**
   * Cancels the step: once aborted, nothing more is written (checked before every write and
   * before every asset), and the assets without a result fail as cancelled.
   */
  readonly signal?: AbortSignal;
  /** Redact secrets in what the process prints (process.stdout/stderr.write) while the step runs; default true. */
  readonly redactOutput?: boolean;
  /**
   * Stops the process when a timed attempt blocks the event loop past its deadline (see
   * startWatchdog); the step processes start one when a selected asset has `timeoutSeconds`.
   */
  readonly watchdog?: TimeoutWatchdog;
  /**
   * Only these checks of the selected assets run (by name); all by default. An unknown name is INVALID_DEFINITION,
   * as is a standalone check's name (`assetCheck()`) outside a check-only step: it never runs in a materialization.
   */
  readonly checks?: readonly string[];
  /**
   * Run the checks alone against the stored outputs (EXECUTION-CONTRACT.md §5): no compute, no write, no
   * materialization; inline and standalone checks (these with their own inputs, loaded from the store). Every
   * selected check is reported, then a failed error-severity check fails the step (CHECK_FAILED).
   */
  readonly checksOnly?: boolean;
  /**
   * The code version to record per asset id, over the definitions' own: a built step passes the
   * manifest's, so that the store, the event and the orchestrator's asset agree even where the
   * bundle prints a compute differently from tsx, which computed the manifest's (code-version.ts).
   */
  readonly codeVersions?: Readonly<Record<string, string | null>>;
}

export type AssetStatus = "success" | "failure" | "skipped";

export interface StepResult {
  readonly status: "success" | "failure";
  /** A failed step may succeed on a retry: false when every failure is deterministic (and on success). */
  readonly retryable: boolean;
  readonly assets: Readonly<Record<string, { status: AssetStatus; records: OutputRecord[]; error?: string }>>;
  /** Why the step failed beyond its assets (a resource's teardown), redacted. */
  readonly error?: SerializedError;
  readonly durationMs: number;
}

/**
 * The one place user code runs. Adapters and the embedded executor call this; each of them only
 * transports its options in and its events out.
 */
export async function runStep(options: StepOptions): Promise<StepResult> {
  const started = performance.now();
  const defs = options.definitions;
  const environment = options.env ?? process.env;
  const retryNumber = options.retryNumber ?? 0;
  const now = options.now ?? new Date();
  const selected = new Set(options.assets);
  for (const id of selected) defs.asset(id); // unknown ids fail before anything runs
  // In dependency order without a pass over every asset of the graph (a step per asset would make a run quadratic).
  const ordered = defs.inOrder(selected);

  const emit = options.onEvent;
  // Known before any resource is built, so that a factory's failure is redacted too.
  // Storage credentials are secrets too: an S3 error or a user's log line never shows them.
  // The assets' own resources and the catalogs of the tables they read (one set, as the manifest lists).
  const resourceSet = stepResourceKeys(defs, ordered);
  const secrets = stepSecrets(defs, resourceSet, environment);
  const redact = redactorOf(secrets);
  // A bad partition key fails the step before any user code runs, with the asset named.
  let plan: { asset: AssetDefinition; keys: string[] }[];
  let store: IOStore;
  try {
    // A BATON_STORAGE that names no usable store fails here too, before any user code runs.
    store = options.store ?? openStore(environment.BATON_STORAGE, environment);
    plan = ordered.map((a) => ({ asset: a, keys: partitionKeysFor(a, options, now) }));
    if (options.checks !== undefined) checkNamesKnown(defs, ordered.map((a) => a.id), options.checks, options.checksOnly !== true);
  } catch (e) {
    const error = redactError(serializeError(e), redact);
    const asset = (e as { asset?: string }).asset ?? ordered[0]?.id ?? "";
    emit({ type: "step_start", runId: options.runId, assets: ordered.map((a) => a.id), partitionKeys: [], retryNumber });
    emit({ type: "asset_failure", asset, partitionKey: options.partitionKey ?? null, error });
    const durationMs = performance.now() - started;
    emit({ type: "step_end", status: "failure", retryable: error.retryable, durationMs });
    return {
      status: "failure",
      retryable: error.retryable,
      assets: Object.fromEntries(ordered.map((a) => [a.id, { status: "failure" as const, records: [], error: error.message }])),
      durationMs,
    };
  }
  const allKeys = [...new Set(plan.flatMap((p) => p.keys))];
  emit({ type: "step_start", runId: options.runId, assets: ordered.map((a) => a.id), partitionKeys: allKeys, retryNumber });

  const outcomes: Record<string, { status: AssetStatus; records: OutputRecord[]; error?: string }> = {};
  /** The first upstream of `id` that ran in this step and did not succeed (its downstream is skipped). */
  const blockedBy = (id: string): string | undefined => defs.upstream(id).find((up) => outcomes[up] && outcomes[up].status !== "success");
  const failures: SerializedError[] = [];
  const releaseOutput = options.redactOutput !== false && secrets.length > 0 ? redactProcessOutput(redact) : () => undefined;
  const fail = (asset: string, partitionKey: string | null, e: unknown) => {
    const error = redactError(serializeError(e), redact);
    failures.push(error);
    emit({ type: "asset_failure", asset, partitionKey, error });
    return error;
  };
  let resources: BuiltResources | undefined;
  let stepError: SerializedError | undefined;
  try {
    resources = await buildResources(defs, ordered, environment, options.resources, resourceSet);
    // Every read of the step (inputs, check inputs, check targets) reads table outputs through its catalogs.
    const tables = tableResolver(resources.instances);
    const stepStore = store.withTables(tables);
    const instances = resources.instances;
    for (const entry of plan) {
      const { asset, keys } = entry;
      /** What runOne, checkOne and a group's call get for one attempt: its events are dropped once it timed out. */
      const attemptOptions = (attempt: Attempt): RunOneOptions => ({
        ...options,
        onEvent: (e: StepEvent) => {
          if (!attempt.timedOut) emit(e);
        },
        store: stepStore,
        tables,
        now,
        retryNumber,
        resources: instances,
        redact,
        partitionKeys: keys,
        attempt,
      });
      if (outcomes[asset.id]) continue; // run with its group's earlier call
      if (options.signal?.aborted) {
        outcomes[asset.id] = { status: "failure", records: [], error: fail(asset.id, keys[0] ?? null, new StepCancelled()).message };
        continue;
      }
      if (asset.batch && !options.checksOnly) {
        // The group's assets this call can take: one execute per partition key for all of them.
        const wave = groupWave(entry, plan, selected, (id) => outcomes[id] !== undefined, (id) => defs.upstream(id)).map((p) => p.asset);
        let active: AssetDefinition[] = [];
        const skip = (a: AssetDefinition, reason: string) => {
          outcomes[a.id] = { status: "skipped", records: outcomes[a.id]?.records ?? [] };
          emit({ type: "asset_skipped", asset: a.id, reason });
        };
        for (const a of wave) {
          const blocked = blockedBy(a.id);
          if (blocked) skip(a, `upstream "${blocked}" did not succeed`);
          else {
            outcomes[a.id] = { status: "success", records: [] };
            active.push(a);
          }
        }
        const failAll = (group: readonly AssetDefinition[], partitionKey: string | null, e: unknown) => {
          for (const a of group) outcomes[a.id] = { status: "failure", records: outcomes[a.id]!.records, error: fail(a.id, partitionKey, e).message };
        };
        for (const [i, key] of (keys.length ? keys : [undefined]).entries()) {
          // A spec whose in-group upstream failed at an earlier key does not run at the later ones.
          if (i > 0) {
            active = active.filter((a) => {
              const gone = blockedBy(a.id);
              if (gone !== undefined) skip(a, `upstream "${gone}" did not succeed`);
              return gone === undefined;
            });
          }
          if (active.length === 0) break;
          const partitionKey = key ?? null;
          if (options.signal?.aborted) {
            failAll(active, partitionKey, new StepCancelled());
            break;
          }
          for (const a of active) emit({ type: "asset_start", asset: a.id, partitionKey });
          // One attempt (one budget) per execute call; the group's assets share timeoutSeconds.
          const attempt = startAttempt(active[0]!, key, options.signal, options.watchdog);
          const base = attemptOptions(attempt);
          let results: Map<string, GroupOutcome>;
          try {
            const members = active;
            results = await attempt.run(() => runGroupKey(asset.batch!, members, key, base));
          } catch (e) {
            failAll(active, partitionKey, e);
            break;
          }
          const next: AssetDefinition[] = [];
          for (const a of active) {
            const r = results.get(a.id)!;
            if (r.status === "success") {
              outcomes[a.id]!.records.push(r.record);
              next.push(a);
            } else if (r.status === "failure") failAll([a], partitionKey, r.error);
            else skip(a, r.reason);
          }
          active = next;
        }
        continue;
      }
      // Checks alone block nothing: each asset's checks run against what is stored.
      const blocked = options.checksOnly ? undefined : blockedBy(asset.id);
      if (blocked) {
        outcomes[asset.id] = { status: "skipped", records: [] };
        emit({ type: "asset_skipped", asset: asset.id, reason: `upstream "${blocked}" did not succeed` });
        continue;
      }
      const records: OutputRecord[] = [];
      outcomes[asset.id] = { status: "success", records };
      // A check-only step checks every key, then fails once for the error-severity checks that failed.
      const failedChecks: { check: string; key: string | undefined }[] = [];
      for (const key of keys.length ? keys : [undefined]) {
        const partitionKey = key ?? null;
        if (options.signal?.aborted) {
          outcomes[asset.id] = { status: "failure", records, error: fail(asset.id, partitionKey, new StepCancelled()).message };
          break;
        }
        // A check-only step reports only its checks (EXECUTION-CONTRACT.md §5).
        if (!options.checksOnly) emit({ type: "asset_start", asset: asset.id, partitionKey });
        // Each key is its own attempt with its own budget; a timed-out attempt's later events are dropped.
        const attempt = startAttempt(asset, key, options.signal, options.watchdog);
        try {
          const base = attemptOptions(attempt);
          if (options.checksOnly) for (const check of await attempt.run(() => checkOne(asset, key, base))) failedChecks.push({ check, key });
          else records.push(await attempt.run(() => runOne(asset, key, base)));
        } catch (e) {
          outcomes[asset.id] = { status: "failure", records, error: fail(asset.id, partitionKey, e).message };
          break;
        }
      }
      if (failedChecks.length > 0 && outcomes[asset.id]!.status === "success") {
        const only = keys.length === 1 ? keys[0]! : null;
        outcomes[asset.id] = { status: "failure", records, error: fail(asset.id, only, checksFailed(asset, failedChecks, keys.length > 1)).message };
      }
    }
  } catch (e) {
    // Resource construction failed: every selected asset fails with the same, named cause.
    for (const a of ordered) {
      if (outcomes[a.id]) continue;
      outcomes[a.id] = { status: "failure", records: [], error: fail(a.id, null, e).message };
    }
  }
  // A teardown failure does not undo what was committed: the materializations stand, the step fails.
  try {
    await resources?.teardown();
  } catch (e) {
    stepError = redactError(serializeError(e), redact);
  } finally {
    releaseOutput();
  }
  const status = !stepError && Object.values(outcomes).every((o) => o.status === "success") ? "success" : "failure";
  // Transient unless every failure is deterministic: a retry can still help the others.
  const retryable = status === "failure" && [...failures, ...(stepError ? [stepError] : [])].some((f) => f.retryable);
  const durationMs = performance.now() - started;
  emit({ type: "step_end", status, retryable, durationMs, ...(stepError ? { error: stepError } : {}) });
  return { status, retryable, assets: outcomes, durationMs, ...(stepError ? { error: stepError } : {}) };
}

/** The partition keys one asset runs for in a step: none, one, or every key of a range. */
export function partitionKeysFor(a: AssetDefinition, o: Pick<StepOptions, "partitionKey" | "partitionRange">, now: Date): string[] {
  if (!a.partitions) return [];
  if (o.partitionRange) return keysInRange(a.partitions, o.partitionRange, now);
  if (o.partitionKey === undefined) {
    throw new BatonError("UNKNOWN_PARTITION", "the asset is partitioned but no partition key was given", {
      asset: a.id,
      file: declaredAt(a),
      hint: "pass a partition key (--partition KEY) or a range (--partition-range FIRST...LAST)",
    });
  }
  assertPartitionKey(a.partitions, o.partitionKey, a.id, now);
  return [o.partitionKey];
}

export interface RunOneOptions extends StepOptions {
  readonly store: IOStore;
  readonly now: Date;
  readonly retryNumber: number;
  readonly resources: Readonly<Record<string, unknown>>;
  readonly redact: (s: string) => string;
  readonly partitionKeys: readonly string[];
  readonly attempt: Attempt;
  /** The step's catalog resources as table sinks (the store reads through the same resolver). */
  readonly tables: TableResolver;
}

/** The context of one attempt, the same for a materialization and a check-only step. */
export function contextFor(asset: AssetDefinition, partitionKey: string | undefined, o: RunOneOptions): AssetContext {
  const partitionKeys = partitionKey === undefined ? [] : [partitionKey];
  return {
    assetKey: asset.key,
    runId: o.runId,
    retryNumber: o.retryNumber,
    partitionKey,
    partitionKeys,
    partitionKeyRange: o.partitionRange ?? (partitionKey !== undefined ? { start: partitionKey, end: partitionKey } : undefined),
    timeWindow: asset.partitions?.type === "time" && partitionKey !== undefined ? timeWindowOfKeys(asset.partitions, partitionKeys) : undefined,
    resources: pick(o.resources, asset.resources),
    log: loggerFor(asset.id, o.onEvent, o.redact),
    signal: o.attempt.signal,
  };
}

/**
 * A check-only attempt: the stored output, read as it was produced (polars or Arrow; nothing for a
 * side-effect asset), goes to the selected checks, inline then standalone (each with its own inputs).
 * Returns the error-severity checks that failed; the caller fails the step once all are reported.
 */
async function checkOne(asset: AssetDefinition, partitionKey: string | undefined, o: RunOneOptions): Promise<string[]> {
  // A group's own checks have their verdicts from execute: alone, only standalone checks of its assets run.
  const inline = asset.batch ? asset.checks.filter((c) => o.checks === undefined || o.checks.includes(c.name)) : [];
  if (asset.batch && o.checks !== undefined && inline.length > 0) {
    throw new BatonError("INVALID_DEFINITION", `check ${inline.map((c) => `"${c.name}"`).join(", ")} of asset group "${asset.batch.name}" has its verdict from the group's execute: it cannot run alone`, {
      asset: asset.id,
      hint: `materialize the asset to run it: ${materializeCommand(asset.id, partitionKey)}`,
    });
  }
  const record = await o.store.readRecord(asset.key, partitionKey);
  if (!record) {
    const key = partitionKey !== undefined ? ` for partition "${partitionKey}"` : "";
    throw new BatonError("MISSING_OUTPUT", `no stored output${key} to run its checks against (looked in ${o.store.dirOf(asset.key, partitionKey)})`, {
      asset: asset.id,
      hint: `materialize it first: ${materializeCommand(asset.id, partitionKey)}`,
    });
  }
  let output: unknown;
  if (record.format !== "none") {
    const { frame } = await o.store.read(asset.key, partitionKey, { asset: asset.id, partitionKey });
    output = await toKind(frame, record.producedAs === "arrow" ? "arrow" : "polars");
  }
  o.attempt.check();
  const context = contextFor(asset, partitionKey, o);
  if (inline.length > 0) {
    o.onEvent({ type: "log", level: "warning", message: `asset "${asset.id}": the checks of asset group "${asset.batch!.name}" run when it is materialized; only its standalone checks run alone`, asset: asset.id });
  }
  const failed = asset.batch ? [] : await runChecks(asset, output, context, partitionKey, o);
  for (const c of selectedStandalone(o.definitions, asset, o.checks)) {
    const inputs = await checkInputs(asset, c, partitionKey, o);
    o.attempt.check();
    failed.push(...(await runChecks(asset, output, context, partitionKey, o, [{ name: c.name, severity: c.severity, description: c.description, check: (out, ctx) => c.check(out, inputs as never, ctx) }])));
  }
  return failed;
}

/** The standalone checks of `asset` a step runs: those named in `checks`, or all. */
function selectedStandalone(defs: Definitions, asset: AssetDefinition, checks: readonly string[] | undefined): AssetCheckDefinition[] {
  return allChecksOf(defs, asset.id).flatMap((c) => (c.standalone && (checks === undefined || checks.includes(c.name)) ? [c.definition] : []));
}

/** A standalone check's inputs from the store, the target's partition key mapped as for an asset's input. */
async function checkInputs(asset: AssetDefinition, c: AssetCheckDefinition, partitionKey: string | undefined, o: RunOneOptions): Promise<Record<string, unknown>> {
  const inputs: Record<string, unknown> = {};
  for (const input of c.inputs) {
    const upstream = o.definitions.asset(input.key.join("/"));
    let loaded: { frame: pl.DataFrame; producedAs: "polars" | "arrow" };
    try {
      loaded = await readInput(asset, upstream, input.partitionMapping, partitionKey, o);
    } catch (e) {
      if (!(e instanceof BatonError && e.code === "MISSING_OUTPUT")) throw e;
      const key = partitionKey !== undefined ? ` (for "${asset.id}" partition "${partitionKey}")` : "";
      throw new BatonError("MISSING_OUTPUT", `check "${c.name}" reads input "${input.name}" from "${upstream.id}"${key}, which has no stored output: ${e.problem}`, {
        asset: asset.id,
        hint: await missingInputHint(asset, upstream, input.partitionMapping, partitionKey, o, e),
      });
    }
    inputs[input.name] = await toKind(loaded.frame, input.as ?? loaded.producedAs);
  }
  return inputs;
}


/**
 * What to materialize for a check's missing input: the input's own missing keys (a time-window mapping reads other
 * keys than the target's), as one partition or the range from the first to the last. A read that found every
 * key stored (a damaged data file, a write racing the read) keeps the store's hint.
 */
async function missingInputHint(
  asset: AssetDefinition,
  upstream: AssetDefinition,
  mapping: AssetDefinition["inputs"][number]["partitionMapping"],
  partitionKey: string | undefined,
  o: RunOneOptions,
  e: BatonError,
): Promise<string> {
  const needed = await inputKeys(asset, upstream, mapping, partitionKey, o);
  if (needed === undefined) return `materialize it first: ${materializeCommand(upstream.id, undefined)}`;
  const stored = new Set(await o.store.storedPartitions(upstream.key));
  const missing = needed.filter((k) => !stored.has(k));
  if (missing.length === 0) return e.hint ?? `materialize it first: ${materializeCommand(upstream.id, undefined)}`;
  if (missing.length === 1) return `materialize it first: ${materializeCommand(upstream.id, missing[0])}`;
  return `materialize it first (${missing.length} partitions of "${upstream.id}" missing): baton materialize --select ${upstream.id} --partition-range ${missing[0]}...${missing.at(-1)}`;
}

/** A check-only step's verdict: the error-severity checks that failed (deterministic: not retried). */
function checksFailed(asset: AssetDefinition, failed: readonly { check: string; key: string | undefined }[], byKey: boolean): BatonError {
  const names = [...new Set(failed.map((f) => f.check))];
  const keys = byKey ? ` (partitions ${[...new Set(failed.map((f) => f.key))].join(", ")})` : "";
  return new BatonError("CHECK_FAILED", `asset check${names.length > 1 ? "s" : ""} ${names.map((c) => `"${c}"`).join(", ")} failed (severity error)${keys}; every selected check was reported`, {
    asset: asset.id,
    hint: "fix the data or the check, or declare the check with severity: \"warn\"",
  });
}

/**
 * Commits one output through the store (data file, then the record: the commit point) and reports its
 * materialization; a compute's frame and an asset group's Parquet file go through here alike.
 */
export async function commitOutput(
  asset: AssetDefinition,
  partitionKey: string | undefined,
  frame: pl.DataFrame | undefined,
  producedAs: "polars" | "arrow" | "none",
  computed: Readonly<Record<string, MetadataValue>> | undefined,
  started: number,
  sink: TableSink | undefined,
  o: RunOneOptions,
): Promise<OutputRecord> {
  const { conflict, ...record } = await o.store.write({
    key: asset.key,
    partitionKey,
    frame,
    producedAs,
    format: asset.format,
    ...(asset.table && sink ? { table: { catalog: asset.table.catalog, sink, name: asset.table.name, partitionColumn: asset.table.partitionColumn, mode: asset.table.mode } } : {}),
    codeVersion: o.codeVersions && Object.hasOwn(o.codeVersions, asset.id) ? (o.codeVersions[asset.id] ?? undefined) : asset.codeVersion,
    runId: o.runId,
    // The deadline holds up to the commit point: a write that outlives it commits nothing.
    beforeCommit: o.attempt.check,
  });
  o.onEvent({
    type: "materialization",
    asset: asset.id,
    partitionKey: partitionKey ?? null,
    dataVersion: record.contentHash,
    metadata: {
      rowCount: record.rowCount,
      schema: record.schema,
      contentHash: record.contentHash,
      durationMs: Math.round((performance.now() - started) * 1000) / 1000,
      path: record.file ? o.store.locationOf(asset.key, partitionKey, record.file) : null,
      format: record.format,
      ...(record.table ? { table: { format: record.table.format, catalog: record.table.catalog, name: record.table.name, snapshotId: record.table.snapshotId, location: record.table.location } } : {}),
      codeVersion: record.codeVersion,
      // What compute returned wins over the declared metadata on a shared key.
      user: redactDeep({ ...asset.metadata, ...computed }, o.redact),
    },
  });
  if (conflict) {
    const where = `asset "${asset.id}"${partitionKey !== undefined ? ` partition "${partitionKey}"` : ""}`;
    o.onEvent({
      type: "log",
      level: "warning",
      message: o.redact(`${where}: run ${conflict.otherRunId ?? "(unknown)"} committed this output while run ${o.runId} was writing it; this run's output replaced it (last writer wins)`),
      asset: asset.id,
    });
  }
  return record;
}

async function runOne(asset: AssetDefinition, partitionKey: string | undefined, o: RunOneOptions): Promise<OutputRecord> {
  const started = performance.now();
  // A catalog resource that is no table catalog fails before the compute runs.
  const sink = asset.table ? o.tables(asset.table.catalog, asset.id) : undefined;
  const inputs: Record<string, unknown> = {};
  for (const input of asset.inputs) {
    const upstream = o.definitions.asset(input.key.join("/"));
    const { frame, producedAs } = await readInput(asset, upstream, input.partitionMapping, partitionKey, o);
    inputs[input.name] = await toKind(frame, input.as ?? producedAs);
  }
  o.attempt.check();
  // A store that cannot be written fails now, before the compute runs (not after its work is done).
  await o.store.prepare(asset.key, partitionKey);
  const context = contextFor(asset, partitionKey, o);
  // A name that is not an input throws, naming the inputs (a destructuring typo).
  const returned = await asset.compute(inputsProxy(asset.id, inputs) as never, context);
  // withMetadata(frame, metadata): the frame is the output, the metadata joins the materialization's.
  const { data: output, metadata: computed } = unwrapOutput(returned, asset.id, () => declaredAt(asset));
  const frame = await validateOutput(asset, output);
  // Every row of a partition's table write holds its partition key: checked before anything is committed.
  if (asset.table && frame) checkPartitionColumn(asset, asset.table, frame, partitionKey);
  // Nothing is committed once the step is cancelled or the attempt timed out, even by a compute that finishes afterwards.
  o.attempt.check();
  const record = await commitOutput(asset, partitionKey, frame, frame === undefined ? "none" : isPolarsFrame(output) ? "polars" : "arrow", computed, started, sink, o);
  // Checks are reported after the materialization they evaluate, as orchestrators expect.
  const failedChecks = await runChecks(asset, output, context, partitionKey, o);
  if (failedChecks.length > 0) throw checksFailedAfterWrite(asset, failedChecks);
  return record;
}

/** A materialization's failed error-severity checks: the output stands, downstream does not run. */
export function checksFailedAfterWrite(asset: AssetDefinition, failed: readonly string[]): BatonError {
  return new BatonError("CHECK_FAILED", `asset check${failed.length > 1 ? "s" : ""} ${failed.map((c) => `"${c}"`).join(", ")} failed (severity error); the output was written but downstream assets will not run`, {
    asset: asset.id,
    hint: "fix the data or the check, or declare the check with severity: \"warn\"",
  });
}

async function readInput(
  asset: AssetDefinition,
  upstream: AssetDefinition,
  explicitMapping: AssetDefinition["inputs"][number]["partitionMapping"],
  partitionKey: string | undefined,
  o: RunOneOptions,
): Promise<{ frame: pl.DataFrame; producedAs: "polars" | "arrow" }> {
  const keys = await inputKeys(asset, upstream, explicitMapping, partitionKey, o);
  if (keys === undefined) {
    const { frame, record } = await o.store.read(upstream.key, undefined, { asset: asset.id, partitionKey });
    return { frame, producedAs: record.producedAs === "arrow" ? "arrow" : "polars" };
  }
  const { frame, records } = await o.store.readMany(upstream.key, keys, { asset: asset.id, partitionKey });
  return { frame, producedAs: records[0]?.producedAs === "arrow" ? "arrow" : "polars" };
}

/** The upstream's keys an input of `asset` (or of its check) reads for `partitionKey`; undefined for an unpartitioned upstream. */
export async function inputKeys(
  asset: AssetDefinition,
  upstream: AssetDefinition,
  explicitMapping: AssetDefinition["inputs"][number]["partitionMapping"],
  partitionKey: string | undefined,
  o: RunOneOptions,
): Promise<string[] | undefined> {
  if (!upstream.partitions) return undefined;
  const mapping = explicitMapping ?? defaultMapping(asset.partitions, upstream.partitions);
  if (!mapping) throw new BatonError("UNMAPPABLE_PARTITIONS", `no partition mapping from "${upstream.id}"`, { asset: asset.id, hint: "declare a partitionMapping on the input" });
  // "All partitions" reads what has been materialized: a daily asset since 2020 is rarely complete.
  if (mapping.type === "allPartitions") {
    const stored = new Set(await o.store.storedPartitions(upstream.key));
    return partitionKeys(upstream.partitions, o.now).filter((k) => stored.has(k));
  }
  return upstreamKeys(asset.partitions, partitionKey === undefined ? [] : [partitionKey], upstream.partitions, mapping, o.now);
}

async function validateOutput(asset: AssetDefinition, output: unknown): Promise<pl.DataFrame | undefined> {
  const got = describe(output);
  if (asset.output === "none") {
    if (output === undefined || output === null) return undefined;
    throw new BatonError("WRONG_OUTPUT_TYPE", `the asset is declared output: "none" but returned ${got}`, {
      asset: asset.id,
      file: declaredAt(asset),
      hint: "return nothing from a side-effect asset, or remove output: \"none\" to store what it returns",
    });
  }
  if (isPolarsFrame(output) || isArrowTable(output)) return await toPolars(output);
  throw new BatonError("WRONG_OUTPUT_TYPE", `compute returned ${got}, not a nodejs-polars DataFrame or an Apache Arrow Table`, {
    asset: asset.id,
    file: declaredAt(asset),
    hint: output === undefined ? "return the frame (a missing `return`?), or declare output: \"none\" for a side-effect asset" : "convert the result with pl.DataFrame(...) or apache-arrow's tableFromArrays(...)",
  });
}

function describe(x: unknown): string {
  if (x === undefined) return "undefined";
  if (x === null) return "null";
  if (isPolarsFrame(x)) return "a polars DataFrame";
  if (isArrowTable(x)) return "an Arrow Table";
  if (Array.isArray(x)) return "an array";
  return typeof x === "object" ? `an object (${(x as object).constructor?.name ?? "Object"})` : `a ${typeof x}`;
}

/**
 * Every name in `checks` must be a check (inline or standalone) of one of `ids`: a typo would otherwise run nothing
 * and pass. `inlineOnly` (a materialization step): a standalone check runs only in a check step (CHECKS-CONTRACT.md §3).
 */
export function checkNamesKnown(defs: Definitions, ids: readonly string[], checks: readonly string[], inlineOnly: boolean): void {
  const all = ids.map((id) => ({ id, checks: allChecksOf(defs, id) }));
  const known = new Set(all.flatMap((a) => a.checks.filter((c) => !(inlineOnly && c.standalone)).map((c) => c.name)));
  const unknown = checks.filter((c) => !known.has(c));
  if (unknown.length === 0) return;
  const standalone = new Set(all.flatMap((a) => a.checks.filter((c) => c.standalone).map((c) => c.name)));
  const at = ids.join(", ");
  if (inlineOnly && unknown.every((c) => standalone.has(c))) {
    throw new BatonError("INVALID_DEFINITION", `${unknown.map((c) => `"${c}"`).join(", ")} ${unknown.length > 1 ? "are standalone checks" : "is a standalone check"} (assetCheck()): standalone checks never run in a materialization step`, {
      asset: at,
      hint: `run ${unknown.length > 1 ? "them" : "it"} in a check step: baton-step check --asset … --check ${unknown[0]} (runStep({ checksOnly: true }))`,
    });
  }
  const withChecks = all.filter((a) => a.checks.length > 0);
  const listed = withChecks.map((a) => `${a.id}: ${a.checks.map((c) => (c.standalone ? `${c.name} (standalone)` : c.name)).join(", ")}`).join("; ");
  throw new BatonError("INVALID_DEFINITION", `no check named ${unknown.map((c) => `"${c}"`).join(", ")} on the selected assets`, {
    asset: at,
    hint: withChecks.length ? `use a check of the selected assets (${listed})` : "none of the selected assets has checks: widen the selection (--select)",
  });
}

/** Runs checks (the asset's inline ones by default), reports each, and returns the error-severity ones that failed. */
async function runChecks(
  asset: AssetDefinition,
  output: unknown,
  context: AssetContext,
  partitionKey: string | undefined,
  o: RunOneOptions,
  checks: readonly AssetCheck<unknown>[] = asset.checks,
): Promise<string[]> {
  const failed: string[] = [];
  const only = o.checks === undefined ? undefined : new Set(o.checks);
  for (const c of checks) {
    if (only !== undefined && !only.has(c.name)) continue;
    const severity = c.severity ?? "error";
    let result: CheckResult;
    try {
      const r = await c.check(output, context);
      result = typeof r === "boolean" ? { passed: r } : r;
    } catch (e) {
      result = { passed: false, description: `the check threw: ${(e as Error).message ?? String(e)}` };
    }
    o.onEvent({
      type: "check",
      asset: asset.id,
      partitionKey: partitionKey ?? null,
      check: c.name,
      passed: result.passed,
      severity,
      description: nullableRedact(result.description ?? c.description ?? null, o.redact),
      metadata: redactDeep(result.metadata ?? {}, o.redact),
    });
    if (!result.passed && severity === "error") failed.push(c.name);
  }
  return failed;
}

export function nullableRedact(text: string | null, redact: (s: string) => string): string | null {
  return text === null ? null : redact(text);
}

export function loggerFor(asset: string, emit: (e: StepEvent) => void, redact: (s: string) => string): Logger {
  const at = (level: LogLevel) => (message: string) => emit({ type: "log", level, message: redact(String(message)), asset });
  return { debug: at("debug"), info: at("info"), warning: at("warning"), error: at("error") };
}

export function pick(all: Readonly<Record<string, unknown>>, keys: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(keys.map((k) => [k, all[k]]));
}
