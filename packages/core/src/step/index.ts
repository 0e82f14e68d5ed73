/** The step runtime, for adapters: run a step, and the event wire format of `baton-step`. */
export { runStep, type StepOptions, type StepResult, type AssetStatus } from "./run.js";
export { serializeError, redactError, redactDeep, type StepEvent, type SerializedError, type MaterializationMetadata, type LogLevel } from "./events.js";
export { EVENT_PREFIX, encodeEvent } from "./protocol.js";
export { guardStep, processHost, StepTracker, describeUnfinished, type StepGuard, type StepHost, type StepSignal, type UnfinishedAsset } from "./guard.js";
export { processIO, writeAllSync, type StepIO, type StepMain } from "./io.js";
export { runStepEntry } from "./entry.js";
export { stepMain } from "./main.js";
export { redactProcessOutput } from "./output.js";
export { exitWithParent } from "./parent.js";
export { redactorOf, secretRedactor } from "./resources.js";
export { isRetryable, DETERMINISTIC_CODES, StepCancelled } from "../errors.js";
export { verifyModule } from "./verify.js";
export { startWatchdog, watchdogMessage, WATCHDOG_GRACE_SECONDS, type TimeoutWatchdog, type WatchedAttempt, type WatchdogOptions } from "./watchdog.js";
export { timeoutError } from "./timeout.js";
export { writeTick, tickRequest, type TickRequest } from "./tick.js";
