import type { Definitions } from "./definitions.js";
import { BatonError } from "./errors.js";
import { previousTick } from "./cron.js";
import { planRun, planScheduleTick } from "./plan.js";
import type { RunRequest } from "./schedule.js";
import { buildResources, secretRedactor } from "./step/resources.js";
import { redactDeep } from "./step/events.js";
import type { Logger } from "./asset.js";

/** A run request with its selection resolved to asset ids, as every runtime must report it. */
export interface ResolvedRunRequest {
  readonly assets: readonly string[];
  readonly partitionKey: string | null;
  readonly runKey: string | null;
  readonly tags: Readonly<Record<string, string>>;
}

export interface EvaluatedTick {
  readonly runRequests: readonly ResolvedRunRequest[];
  readonly cursor: string | null;
  readonly skipReason: string | null;
  /** Schedules: the cron time the tick belongs to (ISO, UTC). */
  readonly tickTime: string | null;
}

/**
 * What a schedule asks for at `at`: the tick is the latest cron time <= at; a partitioned target
 * runs the last window complete at that tick (Dagster's and Airflow's "data interval" convention),
 * and nothing, with a reason, once its partitions have ended (see planScheduleTick).
 */
export function evaluateScheduleTick(defs: Definitions, name: string, at: Date): EvaluatedTick {
  const s = defs.schedules.find((x) => x.name === name);
  if (!s) throw unknownName("schedule", name, defs.schedules.map((x) => x.name));
  const t = planScheduleTick(defs, name, previousTick(s.cron, s.timezone, at));
  if (t.skipReason !== null) return { runRequests: [], cursor: null, skipReason: t.skipReason, tickTime: t.tickTime };
  return { runRequests: [{ assets: t.targets, partitionKey: t.partitionKey, runKey: t.runKey, tags: {} }], cursor: null, skipReason: null, tickTime: t.tickTime };
}

/** Run a sensor's function once. Resources come from `environment`, as in a step. */
export async function evaluateSensorTick(
  defs: Definitions,
  name: string,
  options: { cursor?: string | null; now?: Date; env?: Readonly<Record<string, string | undefined>>; log?: Logger } = {},
): Promise<EvaluatedTick> {
  const s = defs.sensors.find((x) => x.name === name);
  if (!s) throw unknownName("sensor", name, defs.sensors.map((x) => x.name));
  const environment = options.env ?? process.env;
  const redact = secretRedactor(defs, s.resources, environment);
  const built = await buildResources(defs, [], environment, {}, s.resources).catch((e: unknown) => {
    throw redacted(e, redact);
  });
  try {
    const silent = () => undefined;
    const to = options.log;
    const log: Logger = to
      ? { debug: (m) => to.debug(redact(String(m))), info: (m) => to.info(redact(String(m))), warning: (m) => to.warning(redact(String(m))), error: (m) => to.error(redact(String(m))) }
      : { debug: silent, info: silent, warning: silent, error: silent };
    let tick: EvaluatedTick;
    try {
      const result = await s.evaluate({ cursor: options.cursor ?? undefined, now: options.now ?? new Date(), resources: built.instances, log });
      const cursor = result.cursor ?? options.cursor ?? null;
      tick =
        "skip" in result
          ? { runRequests: [], cursor, skipReason: result.skip, tickTime: null }
          : { runRequests: result.runRequests.map((r) => resolveRequest(defs, s.selection, r, `sensor "${name}"`, options.now)), cursor, skipReason: null, tickTime: null };
    } catch (e) {
      throw redacted(e, redact);
    }
    // Skip reasons, cursors and run requests reach the orchestrator's records: no secret in them.
    return redactDeep(tick, redact);
  } finally {
    await built.teardown().catch((e: unknown) => {
      throw redacted(e, redact);
    });
  }
}

function resolveRequest(defs: Definitions, fallback: string, r: RunRequest, owner: string, now?: Date): ResolvedRunRequest {
  const selection = r.selection ?? fallback;
  const assets = defs.select(selection);
  if (r.partitionKey !== undefined) {
    // The run will be planned with this key (see plan.ts): a request it cannot plan fails the tick.
    try {
      planRun(defs, { selection, partitionKey: r.partitionKey, now: now ?? new Date() });
    } catch (e) {
      if (!(e instanceof BatonError)) throw e;
      throw new BatonError(e.code, `${owner} requested ${e.problem}`, { asset: e.asset, hint: e.hint });
    }
  }
  return { assets, partitionKey: r.partitionKey ?? null, runKey: r.runKey ?? null, tags: { ...(r.tags ?? {}) } };
}

function unknownName(kind: string, name: string, known: readonly string[]): BatonError {
  return new BatonError("UNKNOWN_SELECTION", `there is no ${kind} named "${name}"`, { hint: known.length ? `known ${kind}s: ${known.join(", ")}` : `declare one in definitions({ ${kind}s })` });
}

/** The error with the sensor's secrets removed from its message and stack (it reaches logs). */
function redacted(e: unknown, redact: (text: string) => string, depth = 0): unknown {
  if (e instanceof Error) {
    e.message = redact(e.message);
    if (e.stack) e.stack = redact(e.stack);
    if (e.cause !== undefined && depth < 5) e.cause = redacted(e.cause, redact, depth + 1);
    return e;
  }
  return typeof e === "string" ? redact(e) : e;
}
