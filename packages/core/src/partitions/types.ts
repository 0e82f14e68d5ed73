/**
 * Partition definitions are plain data so they serialise into the manifest unchanged and every
 * adapter (and its Python side) reads the same description.
 */
export type TimeGrain = "hourly" | "daily" | "weekly" | "monthly";

export interface TimePartitionsDefinition {
  readonly type: "time";
  readonly grain: TimeGrain;
  /** First partition's start, ISO local date or date-time in `timezone`, e.g. "2024-01-01". */
  readonly start: string;
  /** Exclusive end (ISO local date/date-time); open-ended when absent. */
  readonly end?: string;
  /** IANA timezone, e.g. "UTC" or "Europe/Paris". */
  readonly timezone: string;
  /** strftime-style key format (%Y %m %d %H %M), the same tokens Dagster and Python use. */
  readonly format: string;
  /** Weekly only: first day of the week, 0 = Sunday … 6 = Saturday (ISO weeks: 1). */
  readonly weekStartsOn?: number;
}

export interface StaticPartitionsDefinition {
  readonly type: "static";
  readonly keys: readonly string[];
}

export type PartitionsDefinition = TimePartitionsDefinition | StaticPartitionsDefinition;

/** How a downstream partition chooses the upstream partitions it reads. */
export type PartitionMapping =
  | { readonly type: "identity" }
  /** Upstream partitions whose time windows overlap the downstream window (any grains). */
  | { readonly type: "timeWindow" }
  /** Every upstream partition (the default for an unpartitioned downstream). */
  | { readonly type: "allPartitions" };

/** Half-open interval [start, end). */
export interface TimeWindow {
  readonly start: Date;
  readonly end: Date;
}

/** Inclusive range of partition keys, in partition order. */
export interface PartitionKeyRange {
  readonly start: string;
  readonly end: string;
}
