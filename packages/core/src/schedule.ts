import { callerLocation } from "./source.js";

/**
 * Which partition a schedule tick runs. `lastComplete` (the default for partitioned targets) is the
 * last time window that ended at or before the tick; `offset` steps further back (1 = one before).
 */
export type SchedulePartition = { readonly type: "lastComplete"; readonly offset?: number } | { readonly type: "static"; readonly key: string };

export interface ScheduleDefinition {
  readonly kind: "schedule";
  readonly name: string;
  readonly cron: string;
  readonly timezone: string;
  /** Asset selection (see selection.ts), e.g. "group:daily" or "+customer_metrics". */
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
  selection: string | readonly string[];
  partition?: SchedulePartition;
  description?: string;
}): ScheduleDefinition {
  const at = callerLocation();
  return {
    kind: "schedule",
    name: config.name,
    cron: config.cron,
    timezone: config.timezone ?? "UTC",
    selection: typeof config.selection === "string" ? config.selection : config.selection.join(" "),
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
