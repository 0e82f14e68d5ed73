import type { Logger } from "../asset.js";
import type { Definitions } from "../definitions.js";
import { evaluateScheduleTick, evaluateSensorTick, type EvaluatedTick } from "../ticks.js";
import type { LogLevel } from "./events.js";
import { encodeEvent } from "./protocol.js";

export interface TickRequest {
  readonly kind: "sensor" | "schedule";
  readonly name: string;
  /** Sensors: the stored cursor. */
  readonly cursor?: string | null;
  /** Sensors: the tick's time (default now). */
  readonly now?: Date;
  /** Schedules: the time the tick is evaluated at (default `now`). */
  readonly at?: Date;
}

/**
 * One sensor or schedule tick as a step process runs it (`baton-step sensor|schedule`,
 * `baton-dagster-step sensor|schedule`): each `log.<level>()` of the sensor is written at once as a
 * `log` event line (so lines written stay when the sensor then throws), then one `tick` line
 * (EXECUTION-CONTRACT.md §6). `write` must write synchronously (fs.writeSync). Messages are
 * redacted by evaluateSensorTick.
 */
export async function writeTick(defs: Definitions, request: TickRequest, write: (line: string) => void): Promise<EvaluatedTick> {
  const now = request.now ?? new Date();
  const at = (level: LogLevel) => (message: string) => write(encodeEvent({ type: "log", level, message, asset: null }));
  const log: Logger = { debug: at("debug"), info: at("info"), warning: at("warning"), error: at("error") };
  const result =
    request.kind === "sensor"
      ? await evaluateSensorTick(defs, request.name, { cursor: request.cursor ?? null, now, log })
      : evaluateScheduleTick(defs, request.name, request.at ?? now);
  write(encodeEvent({ type: "tick", result }));
  return result;
}

/** The tick of `<bin> sensor|schedule --name N [--cursor C] [--now ISO] [--at ISO]`, as both step bins parse it. */
export function tickRequest(kind: "sensor" | "schedule", values: { readonly name?: string | undefined; readonly cursor?: string | undefined; readonly now?: string | undefined; readonly at?: string | undefined }): TickRequest {
  const now = values.now ? new Date(values.now) : new Date();
  return { kind, name: values.name ?? "", cursor: values.cursor ?? null, now, at: values.at ? new Date(values.at) : now };
}
