import { resolveSelection, type Selection } from "./selection.js";
import { callerLocation } from "./source.js";

/**
 * Which partition a schedule tick runs. `lastComplete` (the default for partitioned targets) is the
 * last time window that ended at or before the tick; `offset` steps further back (1 = one before).
 */
export type SchedulePartition = { readonly type: "lastComplete"; readonly offset?: number } | { readonly type: "static"; readonly key: string };

export interface ScheduleDefinition {
  readonly kind: "schedule";
  readonly name: string;
  /**
   * 5-field cron on the wall clock of `timezone`. At DST changes (cron.ts, the same in every runtime):
   * a cron whose hour field covers every hour ticks at every instant whose wall time matches (both
   * passes of a repeated hour, none in a gap); any other cron ticks once per matching wall time, at
   * its first pass when it happens twice (`30 1 * * *`, New York, 2024-11-03: 01:30 EDT), and read
   * with the pre-gap offset when it falls in a gap (`30 2 * * *`, 2024-03-10: 03:30 EDT).
   */
  readonly cron: string;
  readonly timezone: string;
  /** Asset selection in the string syntax (see selection.ts), e.g. "group:daily" or "+customer_metrics"; helpers and assets given to schedule() are resolved to it. */
  readonly selection: string;
  readonly partition: SchedulePartition | undefined;
  readonly description: string | undefined;
  readonly file: string | undefined;
  /** The line of `file` where schedule() was called, for messages (`file:line`). */
  readonly line?: number | undefined;
}

export function schedule(config: {
  name: string;
  cron: string;
  timezone?: string;
  /** A string ("group:daily"), an asset, a helper (`upstream(x)`, `group("sales")`, …) or an array of these. */
  selection: Selection;
  partition?: SchedulePartition;
  description?: string;
}): ScheduleDefinition {
  const at = callerLocation();
  return {
    kind: "schedule",
    name: config.name,
    cron: config.cron,
    timezone: config.timezone ?? "UTC",
    selection: resolveSelection(config.selection),
    partition: config.partition,
    description: config.description,
    file: at?.file,
    line: at?.line,
  };
}

/** What a schedule or sensor asks the runtime to run. */
export interface RunRequest {
  /** Assets to run; the schedule's/sensor's selection when absent. Resolved keys in results. */
  readonly selection?: string;
  readonly partitionKey?: string;
  /** De-duplication key: a runtime never starts two runs with the same run key for one sensor. */
  readonly runKey?: string;
  readonly tags?: Readonly<Record<string, string>>;
}

/** A tick's outcome, identical in shape whichever runtime evaluated it. */
export type TickResult =
  | { readonly runRequests: readonly RunRequest[]; readonly cursor?: string | undefined }
  | { readonly skip: string; readonly cursor?: string | undefined };
