export type * from "./types.js";
export {
  hourlyPartitions,
  dailyPartitions,
  weeklyPartitions,
  monthlyPartitions,
  staticPartitions,
  validatePartitionsDefinition,
  describePartitions,
  DEFAULT_KEY_FORMATS,
  type TimePartitionsOptions,
  type WeeklyPartitionsOptions,
} from "./define.js";
export {
  partitionKeys,
  hasPartitionKey,
  assertPartitionKey,
  timeWindowOf,
  keyForTime,
  lastCompleteKey,
  keysInRange,
  timeWindowOfKeys,
  formatKey,
  parseKey,
  sortKeys,
} from "./time.js";
export { defaultMapping, mappingProblem, upstreamKeys, samePartitions } from "./mapping.js";
