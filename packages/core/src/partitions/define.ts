import { IANAZone } from "luxon";
import { BatonError, type BatonErrorCode } from "../errors.js";
import { floorWall, formatParts, parseLocalIso } from "./time.js";
import { callerLocation } from "../source.js";
import type { PartitionsDefinition, StaticPartitionsDefinition, TimeGrain, TimePartitionsDefinition } from "./types.js";

export interface TimePartitionsOptions {
  /** First partition's start: ISO local date or date-time in `timezone`, on a window boundary. */
  start: string;
  /** Exclusive end, on a window boundary; open-ended when absent. */
  end?: string;
  /** IANA timezone; default "UTC". */
  timezone?: string;
  /** strftime-style key format (%Y %m %d %H %M); defaults match the usual Python orchestrators'. */
  format?: string;
}

export interface WeeklyPartitionsOptions extends TimePartitionsOptions {
  /** 0 = Sunday … 6 = Saturday; default 1 (Monday, ISO weeks). */
  weekStartsOn?: number;
}

export const DEFAULT_KEY_FORMATS: Readonly<Record<TimeGrain, string>> = {
  hourly: "%Y-%m-%d-%H:%M",
  daily: "%Y-%m-%d",
  weekly: "%Y-%m-%d",
  monthly: "%Y-%m-%d",
};

/** Tokens a key must carry for the window start to be read back from it. */
const REQUIRED_TOKENS: Readonly<Record<TimeGrain, readonly string[]>> = {
  hourly: ["Y", "m", "d", "H"],
  daily: ["Y", "m", "d"],
  weekly: ["Y", "m", "d"],
  monthly: ["Y", "m"],
};

const GRAINS: readonly string[] = ["hourly", "daily", "weekly", "monthly"];
const WEEKDAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

export interface PartitionsProblem {
  readonly code: BatonErrorCode;
  readonly problem: string;
  readonly hint: string;
}

/** Why `tz` is not a usable IANA timezone, or undefined. */
export function timezoneProblem(tz: unknown): string | undefined {
  const p = zoneProblem(tz);
  return p && `${p.problem}; ${p.hint}`;
}

function zoneProblem(tz: unknown): PartitionsProblem | undefined {
  // Fixed offsets ("+02:00") parse in JS but are not IANA names the Python side can load.
  if (typeof tz !== "string" || !/^[A-Za-z][A-Za-z0-9_+\-/]*$/.test(tz) || !IANAZone.isValidZone(tz)) {
    return {
      code: "INVALID_TIMEZONE",
      problem: `${JSON.stringify(tz)} is not an IANA timezone`,
      hint: 'use a name from the tz database, e.g. "UTC", "Europe/Paris" or "America/New_York"',
    };
  }
  return undefined;
}

function invalid(problem: string, hint: string): PartitionsProblem {
  return { code: "INVALID_PARTITIONS", problem, hint };
}

function formatProblem(grain: TimeGrain, format: unknown): PartitionsProblem | undefined {
  if (typeof format !== "string" || format === "") return invalid(`format ${JSON.stringify(format)} is not a non-empty string`, `use e.g. "${DEFAULT_KEY_FORMATS[grain]}"`);
  let tokens: string[];
  try {
    tokens = formatParts(format).flatMap((p) => ("token" in p ? [p.token] : []));
  } catch (e) {
    return invalid((e as BatonError).message.split("\n")[0] ?? "", "use only %Y %m %d %H %M (and %% for a literal %)");
  }
  const repeated = tokens.find((t, i) => tokens.indexOf(t) !== i);
  if (repeated) return invalid(`format "${format}" uses %${repeated} twice`, "use each token once");
  const missing = REQUIRED_TOKENS[grain].filter((t) => !tokens.includes(t));
  if (missing.length > 0) {
    return invalid(
      `format "${format}" cannot identify a ${grain} partition: it lacks ${missing.map((t) => `%${t}`).join(" ")}`,
      `include ${REQUIRED_TOKENS[grain].map((t) => `%${t}`).join(" ")}, e.g. "${DEFAULT_KEY_FORMATS[grain]}"`,
    );
  }
  // Keys become path segments and comma-separated lists in the CLI.
  if (/[/,\s]/.test(format) || CONTROL.test(format)) return invalid(`format ${JSON.stringify(format)} would put "/", "," or whitespace in partition keys`, 'use "-", "_" or ":" as separators');
  // "..." separates a range's ends (FIRST...LAST), and Dagster refuses keys that contain it.
  if (format.includes("...")) return invalid(`format "${format}" would put "..." in partition keys`, 'use "-", "_" or ":" as separators');
  return undefined;
}

function boundaryHint(grain: TimeGrain, weekStartsOn: number): string {
  switch (grain) {
    case "hourly":
      return "start on the hour, e.g. \"2024-01-01T00:00\"";
    case "daily":
      return "start at midnight, e.g. \"2024-01-01\"";
    case "weekly":
      return `start at midnight on a ${WEEKDAYS[weekStartsOn]} (weekStartsOn: ${weekStartsOn})`;
    case "monthly":
      return "start at midnight on the first day of a month, e.g. \"2024-01-01\"";
  }
}

function timeProblem(def: Partial<Record<keyof TimePartitionsDefinition, unknown>>): PartitionsProblem | undefined {
  const grain = def.grain;
  if (typeof grain !== "string" || !GRAINS.includes(grain)) return invalid(`unknown time grain ${JSON.stringify(grain)}`, `use one of ${GRAINS.join(", ")}`);
  const g = grain as TimeGrain;
  const zone = zoneProblem(def.timezone);
  if (zone) return zone;
  const tz = def.timezone as string;
  const ws = def.weekStartsOn ?? 1;
  if (def.weekStartsOn !== undefined && g !== "weekly") return invalid(`weekStartsOn is set on ${g} partitions`, "remove it; it only applies to weekly partitions");
  if (typeof ws !== "number" || !Number.isInteger(ws) || ws < 0 || ws > 6) return invalid(`weekStartsOn ${JSON.stringify(ws)} is not a weekday`, "use 0 (Sunday) … 6 (Saturday); 1 (Monday) gives ISO weeks");
  const fmt = formatProblem(g, def.format);
  if (fmt) return fmt;
  const bounds: Array<["start" | "end", unknown]> = [["start", def.start]];
  if (def.end !== undefined) bounds.push(["end", def.end]);
  const walls: number[] = [];
  for (const [name, value] of bounds) {
    const wall = typeof value === "string" ? parseLocalIso(value, tz) : undefined;
    if (wall === undefined) {
      return invalid(
        `${name} ${JSON.stringify(value)} is not an ISO local date or date-time that exists in ${tz}`,
        `write it like "2024-01-01" or "2024-01-01T06:00", without offset, in the partitions' timezone (and not inside a DST gap)`,
      );
    }
    if (floorWall(g, wall, ws) !== wall) {
      return invalid(`${name} ${JSON.stringify(value)} is not on a ${g} window boundary`, boundaryHint(g, ws));
    }
    walls.push(wall);
  }
  const [first, end] = walls;
  if (first !== undefined && end !== undefined && end <= first) return invalid(`end "${String(def.end)}" is not after start "${String(def.start)}"`, "make end later than start, or leave it out for open-ended partitions");
  return undefined;
}

/**
 * The folder name the IO store keeps an unpartitioned output under (see io/store.ts): a static key
 * with that name would look like the asset's unpartitioned output to anything that lists folders.
 */
export const RESERVED_PARTITION_KEYS: readonly string[] = [".", "..", "__unpartitioned__"];
/** C0 and C1 control characters (newlines, tabs, NUL…), DEL and the Unicode line and paragraph separators. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/**
 * Why `key` cannot be a static partition key, or undefined. Keys name storage folders, appear in
 * CLI lists (`--partition a,b`), ranges (`FIRST...LAST`), logs and orchestrator UIs; Dagster refuses
 * keys containing "..." or control characters (INVALID_PARTITION_SUBSTRINGS), which would break the
 * whole code location. baton_core/partitions.py (`static_partitions_problem`) applies the same rules.
 */
function staticKeyProblem(k: unknown): PartitionsProblem | undefined {
  if (typeof k !== "string" || k.trim() === "") return invalid(`static partition key ${JSON.stringify(k)} is not a non-empty string`, "give every key some text");
  if (CONTROL.test(k)) {
    return invalid(`static partition key ${JSON.stringify(k)} contains a control character or line break`, "remove it: logs would split the key and Dagster refuses such keys");
  }
  if (/[/,]/.test(k)) return invalid(`static partition key ${JSON.stringify(k)} contains "/" or ","`, 'keys become path segments and CLI lists: use "-" or "_" instead');
  if (k.includes("...")) return invalid(`static partition key ${JSON.stringify(k)} contains "..."`, '"..." separates the ends of a partition range (FIRST...LAST) and Dagster refuses it: use "-" or "_" instead');
  if (RESERVED_PARTITION_KEYS.includes(k)) {
    return invalid(
      `static partition key ${JSON.stringify(k)} is reserved`,
      `"." and ".." are relative folder names and "__unpartitioned__" is where unpartitioned outputs are stored: use a word, e.g. ${k === "__unpartitioned__" ? '"unpartitioned"' : '"current" or "parent"'}`,
    );
  }
  if (k !== k.trim()) return invalid(`static partition key ${JSON.stringify(k)} has leading or trailing whitespace`, "trim it");
  return undefined;
}

function staticProblem(keys: unknown): PartitionsProblem | undefined {
  if (!Array.isArray(keys) || keys.length === 0) return invalid("static partitions need at least one key", 'pass a list of keys, e.g. staticPartitions(["eu", "us"])');
  const seen = new Set<string>();
  for (const k of keys as unknown[]) {
    const p = staticKeyProblem(k);
    if (p) return p;
    if (seen.has(k as string)) return invalid(`static partition key "${k as string}" is listed twice`, "list each key once");
    seen.add(k as string);
  }
  return undefined;
}

function problemOf(def: unknown): PartitionsProblem | undefined {
  if (typeof def !== "object" || def === null) return invalid(`partitions definition ${JSON.stringify(def)} is not an object`, 'build it with dailyPartitions(...), staticPartitions([...]) and the like');
  const d = def as { type?: unknown; keys?: unknown };
  if (d.type === "static") return staticProblem(d.keys);
  if (d.type === "time") return timeProblem(def as Partial<Record<keyof TimePartitionsDefinition, unknown>>);
  return invalid(`unknown partitions type ${JSON.stringify(d.type)}`, 'use type "time" or "static"');
}

/** What is wrong with a partitions definition (e.g. one read back from JSON), or undefined. */
export function validatePartitionsDefinition(def: unknown): string | undefined {
  const p = problemOf(def);
  return p && `${p.problem}; ${p.hint}`;
}

/** The same check as `validatePartitionsDefinition`, with the problem and its fix apart (for BatonErrors). */
export function partitionsProblem(def: unknown): PartitionsProblem | undefined {
  return problemOf(def);
}

function checked<D extends PartitionsDefinition>(def: D): D {
  const p = problemOf(def);
  if (p) {
    const at = callerLocation();
    throw new BatonError(p.code, p.problem, { file: at && `${at.file}:${at.line}`, hint: p.hint });
  }
  return def;
}

function timeDefinition(grain: TimeGrain, o: WeeklyPartitionsOptions): TimePartitionsDefinition {
  return checked<TimePartitionsDefinition>({
    type: "time",
    grain,
    start: o.start,
    ...(o.end !== undefined ? { end: o.end } : {}),
    timezone: o.timezone ?? "UTC",
    format: o.format ?? DEFAULT_KEY_FORMATS[grain],
    ...(grain === "weekly" ? { weekStartsOn: o.weekStartsOn ?? 1 } : {}),
  });
}

export function hourlyPartitions(options: TimePartitionsOptions): TimePartitionsDefinition {
  return timeDefinition("hourly", options);
}

export function dailyPartitions(options: TimePartitionsOptions): TimePartitionsDefinition {
  return timeDefinition("daily", options);
}

export function weeklyPartitions(options: WeeklyPartitionsOptions): TimePartitionsDefinition {
  return timeDefinition("weekly", options);
}

export function monthlyPartitions(options: TimePartitionsOptions): TimePartitionsDefinition {
  return timeDefinition("monthly", options);
}

export function staticPartitions(keys: readonly string[]): StaticPartitionsDefinition {
  return checked<StaticPartitionsDefinition>({ type: "static", keys: Array.isArray(keys) ? [...keys] : keys });
}

/** One-line description for messages, e.g. `daily partitions from 2024-01-01 (UTC)`. */
export function describePartitions(def: PartitionsDefinition | undefined): string {
  if (def === undefined) return "unpartitioned";
  if (def.type === "static") {
    const shown = def.keys.slice(0, 5).map((k) => JSON.stringify(k)).join(", ");
    return `static partitions [${shown}${def.keys.length > 5 ? `, … ${def.keys.length - 5} more` : ""}]`;
  }
  const week = def.grain === "weekly" ? `, weeks start on ${WEEKDAYS[def.weekStartsOn ?? 1] ?? "?"}` : "";
  return `${def.grain} partitions from ${def.start}${def.end === undefined ? "" : ` to ${def.end}`} (${def.timezone}${week})`;
}
