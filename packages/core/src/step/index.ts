/** The step runtime, for adapters: run a step, and the event wire format of `baton-step`. */
export { runStep, type StepOptions, type StepResult, type AssetStatus } from "./run.js";
export { serializeError, type StepEvent, type SerializedError, type MaterializationMetadata, type LogLevel } from "./events.js";
export { EVENT_PREFIX, encodeEvent } from "./protocol.js";
