import type { PartitionKeyRange } from "@baton/core";

/** Everything a runtime is told when the suite starts: where the fixtures are and their env. */
export interface HarnessEnvironment {
  /** Compiled ESM module whose default export is the fixture definitions. */
  readonly fixtureModule: string;
  readonly exportName: string;
  /** The IO store root the runtime must use (BATON_STORAGE). */
  readonly storageDir: string;
  /** A scratch folder for the runtime's own files (projects, homes, databases). */
  readonly workDir: string;
  /** Variables the runtime must place in the environment of every step (BATON_STORAGE, resource config). */
  readonly env: Readonly<Record<string, string>>;
}

export type CaseStatus = "success" | "failure" | "skipped";

/** A run as the suite compares it; every runtime reads this back from its orchestrator. */
export interface HarnessRun {
  readonly status: "success" | "failure";
  readonly assets: Readonly<
    Record<
      string,
      {
        readonly status: CaseStatus;
        /** Attempts the runtime made (1 = no retry). */
        readonly attempts: number;
        /** The failure message as the runtime reported it, when it failed. */
        readonly error?: string | null;
      }
    >
  >;
  readonly checks: readonly { readonly asset: string; readonly check: string; readonly passed: boolean; readonly partitionKey: string | null }[];
}

export interface HarnessTick {
  readonly runRequests: readonly { readonly assets: readonly string[]; readonly partitionKey: string | null; readonly runKey: string | null }[];
  readonly cursor: string | null;
  readonly skipReason: string | null;
}

export interface MaterializeRequest {
  /** Asset ids, already resolved; the runtime runs exactly these (their upstreams are stored). */
  readonly assets: readonly string[];
  readonly partitionKey?: string;
  readonly partitionRange?: PartitionKeyRange;
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
  teardown(): Promise<void>;
}

export const CAPABILITIES = ["materialize", "arrow", "sideEffects", "resources", "partitions", "partitionRanges", "partitionMappings", "staticPartitions", "retries", "failures", "checks", "schedules", "sensors"] as const;
export type Capability = (typeof CAPABILITIES)[number];
