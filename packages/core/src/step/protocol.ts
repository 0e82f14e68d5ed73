import type { StepEvent } from "./events.js";

/**
 * Events travel on the step's stdout as one JSON object per line after this prefix, so that a
 * Python shim can tell them from whatever the user's code prints.
 */
export const EVENT_PREFIX = "@@baton:event ";

export function encodeEvent(event: StepEvent | { type: "tick"; result: unknown }): string {
  return EVENT_PREFIX + JSON.stringify(event) + "\n";
}
