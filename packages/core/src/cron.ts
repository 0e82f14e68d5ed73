import { CronExpressionParser, type CronExpression } from "cron-parser";
import { BatonError } from "./errors.js";
import { timezoneProblem } from "./partitions/define.js";
import { instantsOfWall, wallOfInstant } from "./partitions/time.js";

export { timezoneProblem };

/** Expanded here so every runtime (and the Python side) sees plain 5-field cron. */
const ALIASES: ReadonlyMap<string, string> = new Map([
  ["@hourly", "0 * * * *"],
  ["@daily", "0 0 * * *"],
  ["@weekly", "0 0 * * 0"],
  ["@monthly", "0 0 1 * *"],
  ["@yearly", "0 0 1 1 *"],
]);

export const MAX_TICKS = 10_000;

const FIELDS = "minute hour day-of-month month day-of-week";

/** The 5-field form of a valid expression, or the reason it is not valid. */
function normalize(expr: unknown): { cron: string } | { problem: string } {
  if (typeof expr !== "string" || expr.trim() === "") return { problem: `cron expression ${JSON.stringify(expr)} is empty; write 5 fields: ${FIELDS}, e.g. "0 6 * * *"` };
  const text = expr.trim();
  if (text.startsWith("@")) {
    const cron = ALIASES.get(text.toLowerCase());
    return cron ? { cron } : { problem: `unknown cron alias "${text}"; use one of ${[...ALIASES.keys()].join(" ")} or 5 fields: ${FIELDS}` };
  }
  const fields = text.split(/\s+/);
  if (fields.length === 6) {
    return { problem: `cron "${text}" has 6 fields; a leading seconds field is not supported, drop it to keep 5 fields: ${FIELDS}` };
  }
  if (fields.length !== 5) return { problem: `cron "${text}" has ${fields.length} fields; write exactly 5: ${FIELDS}` };
  // cron-parser's H picks a random value per parse, so two evaluations could disagree on the ticks.
  if (fields.some((f) => /(?<![a-z])h(?![a-z])/i.test(f))) return { problem: `cron "${text}" uses H (hashed values), which is not portable; write explicit values` };
  try {
    CronExpressionParser.parse(text, { tz: "UTC", currentDate: 0 });
  } catch (e) {
    return { problem: `invalid cron "${text}": ${(e as Error).message}; fields are ${FIELDS}` };
  }
  return { cron: fields.join(" ") };
}

/** Why `expr` is not an accepted cron expression, or undefined. */
export function cronProblem(expr: string): string | undefined {
  const n = normalize(expr);
  return "problem" in n ? n.problem : undefined;
}

/** Problems read "what is wrong; how to fix it": split them into message and hint. */
function fail(code: "INVALID_CRON" | "INVALID_TIMEZONE", problem: string): BatonError {
  const cut = problem.indexOf("; ");
  return new BatonError(code, cut < 0 ? problem : problem.slice(0, cut), { hint: cut < 0 ? undefined : problem.slice(cut + 2) });
}

/**
 * Ticks in a timezone with DST, decided once for every runtime (core README, "Schedules and DST"):
 * a cron matches wall-clock times, and
 * - a cron whose hour field covers every hour (`15 * * * *`, `*\/10 * * * *`) ticks at every
 *   instant whose wall time matches: twice in the hour a fall-back repeats, never in a
 *   spring-forward gap (those wall times do not happen) — every elapsed hour gets its tick;
 * - any other cron ticks once per matching wall time: at its first occurrence when it happens
 *   twice (`30 1 * * *` in New York on 2024-11-03: 01:30 EDT), and when it falls in a gap, at the
 *   wall time read with the offset before the gap (`30 2 * * *` on 2024-03-10: 03:30 EDT), an hour
 *   late rather than not at all. Ticks that land on the same instant are one tick.
 * Daily partition windows resolve wall times the same way, so a tick and a window agree.
 */
interface Cron {
  readonly text: string;
  readonly tz: string;
  readonly everyHour: boolean;
}

function compile(expr: string, tz: string): Cron {
  const n = normalize(expr);
  if ("problem" in n) throw fail("INVALID_CRON", n.problem);
  const tzProblem = timezoneProblem(tz);
  if (tzProblem) throw fail("INVALID_TIMEZONE", tzProblem);
  return { text: n.cron, tz, everyHour: CronExpressionParser.parse(n.cron, { tz: "UTC", currentDate: 0 }).fields.hour.values.length === 24 };
}

/** Matching wall times (ms of the local time read as UTC) after (next) or before (prev) `wall`. */
function walls(cron: Cron, wall: number): CronExpression {
  return CronExpressionParser.parse(cron.text, { tz: "UTC", currentDate: new Date(wall) });
}

function tickInstants(cron: Cron, wall: number): readonly number[] {
  const r = instantsOfWall(cron.tz, wall);
  return cron.everyHour ? r.all : [r.first];
}

/** A wall time and the instants it names differ by at most a DST shift; this bounds every search. */
const SLACK = 3 * 3_600_000;

/** Whether a cron's hour field covers every hour: such crons tick in both passes of a repeated hour. */
export function repeatsEveryHour(expr: string): boolean {
  return compile(expr, "UTC").everyHour;
}

/** The first tick strictly after `after`. */
export function nextTick(expr: string, tz: string, after: Date): Date {
  const cron = compile(expr, tz);
  const t0 = after.getTime();
  const it = walls(cron, wallOfInstant(tz, t0) - SLACK);
  let best = Infinity;
  for (;;) {
    const w = it.next().toDate().getTime();
    if (best !== Infinity && w > wallOfInstant(tz, best) + SLACK) return new Date(best);
    for (const t of tickInstants(cron, w)) if (t > t0 && t < best) best = t;
  }
}

/** The latest tick at or before `at`. */
export function previousTick(expr: string, tz: string, at: Date): Date {
  const cron = compile(expr, tz);
  const t0 = at.getTime();
  const it = walls(cron, wallOfInstant(tz, t0) + SLACK);
  let best = -Infinity;
  for (;;) {
    let w: number;
    try {
      w = it.prev().toDate().getTime();
    } catch {
      break; // cron-parser stops at year 1970-ish bounds
    }
    if (best !== -Infinity && w < wallOfInstant(tz, best) - SLACK) return new Date(best);
    for (const t of tickInstants(cron, w)) if (t <= t0 && t > best) best = t;
  }
  if (best === -Infinity) throw new Error(`no cron tick of "${expr}" found at or before ${at.toISOString()}`);
  return new Date(best);
}

/** Ticks t with from < t <= to, in order; at most MAX_TICKS. */
export function ticksBetween(expr: string, tz: string, from: Date, to: Date): Date[] {
  const cron = compile(expr, tz);
  const a = from.getTime();
  const b = to.getTime();
  if (b <= a) return [];
  const it = walls(cron, wallOfInstant(tz, a) - SLACK);
  const last = wallOfInstant(tz, b) + SLACK;
  const found = new Set<number>();
  for (let w = it.next().toDate().getTime(); w <= last; w = it.next().toDate().getTime()) {
    for (const t of tickInstants(cron, w)) {
      if (t <= a || t > b) continue;
      found.add(t);
      if (found.size > MAX_TICKS) {
        throw new BatonError("INVALID_CRON", `cron "${expr}" ticks more than ${MAX_TICKS} times between ${from.toISOString()} and ${to.toISOString()}`, {
          hint: "ask for a shorter range (e.g. backfill in chunks) or use a less frequent schedule",
        });
      }
    }
  }
  return [...found].sort((x, y) => x - y).map((t) => new Date(t));
}

/** How a Prefect deployment ticks exactly as Baton: one cron schedule, or several schedules together. */
export type PrefectSchedule = { readonly cron: string; readonly timezone: string } | { readonly rrule: string; readonly timezone: "UTC" };

/** Prefect refuses longer rrule strings. */
const PREFECT_MAX_RRULE = 6500;

function rdate(t: number): string {
  return new Date(t).toISOString().replace(/[-:]/g, "").replace(/\.\d{3}Z$/, "Z");
}

/**
 * What a Prefect deployment must be given to tick as Baton does. Prefect's CronSchedule follows
 * Baton's rule except for crons that repeat every hour, where it skips the second pass of a repeated
 * hour. So such a cron is given in UTC when its day and month fields are "*" (its minutes moved by
 * the zone's sub-hour offset, which must be the same all year), and otherwise as the cron plus an
 * RRule schedule listing the second-pass ticks from `from` for `years` (as many as Prefect accepts).
 */
export function prefectSchedules(expr: string, tz: string, from: Date = new Date(), years = 20): PrefectSchedule[] {
  const cron = compile(expr, tz);
  const local = { cron: cron.text, timezone: tz };
  if (!cron.everyHour) return [local];
  const start = from.getTime();
  const end = start + years * 366 * 24 * 3_600_000;
  const fields = cron.text.split(" ");
  // Offset changes in the horizon: every hour, the offset (the wall minus the instant).
  const offsets = new Set<number>();
  const repeats: [number, number][] = [];
  let prev = wallOfInstant(tz, start) - start;
  offsets.add(prev);
  for (let t = start + 3_600_000; t < end; t += 3_600_000) {
    const o = wallOfInstant(tz, t) - t;
    if (o !== prev) {
      offsets.add(o);
      // A fall-back: the instants [change, change + shift) repeat wall times already shown.
      if (o < prev) {
        let lo = t - 3_600_000;
        let hi = t;
        while (hi - lo > 1) {
          const mid = Math.floor((lo + hi) / 2);
          if (wallOfInstant(tz, mid) - mid === prev) lo = mid;
          else hi = mid;
        }
        repeats.push([hi, hi + (prev - o)]);
      }
      prev = o;
    }
  }
  const remainders = new Set([...offsets].map((o) => ((o % 3_600_000) + 3_600_000) % 3_600_000));
  if (fields.slice(2).every((f) => f === "*") && remainders.size === 1) {
    const r = [...remainders][0] as number;
    const minutes = CronExpressionParser.parse(cron.text, { tz: "UTC", currentDate: 0 }).fields.minute.values.map((m) => (((Number(m) - r / 60_000) % 60) + 60) % 60);
    return [{ cron: `${[...new Set(minutes)].sort((a, b) => a - b).join(",")} * * * *`, timezone: "UTC" }];
  }
  const second: number[] = [];
  for (const [a, b] of repeats) second.push(...ticksBetween(cron.text, tz, new Date(a - 1), new Date(b - 1)).map((d) => d.getTime()));
  if (second.length === 0) return [local];
  let rrule = "RDATE:";
  for (const t of second) {
    const next = rrule === "RDATE:" ? `${rrule}${rdate(t)}` : `${rrule},${rdate(t)}`;
    if (next.length > PREFECT_MAX_RRULE) break;
    rrule = next;
  }
  return [local, { rrule, timezone: "UTC" }];
}
