import { CronExpressionParser, type CronExpression } from "cron-parser";
import { BatonError } from "./errors.js";
import { timezoneProblem } from "./partitions/define.js";

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

function parse(expr: string, tz: string, currentDate: Date): CronExpression {
  const n = normalize(expr);
  if ("problem" in n) throw fail("INVALID_CRON", n.problem);
  const tzProblem = timezoneProblem(tz);
  if (tzProblem) throw fail("INVALID_TIMEZONE", tzProblem);
  return CronExpressionParser.parse(n.cron, { tz, currentDate });
}

/** The first tick strictly after `after`. */
export function nextTick(expr: string, tz: string, after: Date): Date {
  return parse(expr, tz, after).next().toDate();
}

/** The latest tick at or before `at`. */
export function previousTick(expr: string, tz: string, at: Date): Date {
  // cron-parser's backward search disagrees with its forward one around DST (it skips or repeats
  // shifted ticks), so step back roughly and then walk forward: ticks then match nextTick's.
  const back = parse(expr, tz, new Date(at.getTime() + 1));
  back.prev();
  const from = new Date(back.prev().toDate().getTime() - 3 * 3_600_000);
  const forward = parse(expr, tz, from);
  let last: Date | undefined;
  for (let t = forward.next().toDate(); t.getTime() <= at.getTime(); t = forward.next().toDate()) last = t;
  if (last === undefined) throw new Error(`no cron tick of "${expr}" found at or before ${at.toISOString()}`);
  return last;
}

/** Ticks t with from < t <= to, in order; at most MAX_TICKS. */
export function ticksBetween(expr: string, tz: string, from: Date, to: Date): Date[] {
  const it = parse(expr, tz, from);
  const out: Date[] = [];
  if (to.getTime() <= from.getTime()) return out;
  for (let t = it.next().toDate(); t.getTime() <= to.getTime(); t = it.next().toDate()) {
    if (out.length === MAX_TICKS) {
      throw new BatonError("INVALID_CRON", `cron "${expr}" ticks more than ${MAX_TICKS} times between ${from.toISOString()} and ${to.toISOString()}`, {
        hint: "ask for a shorter range (e.g. backfill in chunks) or use a less frequent schedule",
      });
    }
    out.push(t);
  }
  return out;
}
