import { BatonError } from "../errors.js";
import type { PartitionKeyRange } from "../partitions/types.js";

/** `FIRST...LAST` (inclusive), the range syntax Dagster's CLI uses. */
export function parseRange(text: string): PartitionKeyRange {
  const parts = text.split("...");
  if (parts.length !== 2 || !parts[0] || !parts[1]) {
    throw new BatonError("UNKNOWN_PARTITION", `invalid partition range "${text}"`, { hint: "write FIRST...LAST, e.g. 2024-01-01...2024-01-07" });
  }
  return { start: parts[0], end: parts[1] };
}
