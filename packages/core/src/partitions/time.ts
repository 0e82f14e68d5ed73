import { DateTime, type DurationLikeObject } from "luxon";
import { BatonError } from "../errors.js";
import type { PartitionKeyRange, PartitionsDefinition, TimeGrain, TimePartitionsDefinition, TimeWindow } from "./types.js";

/*
 * Time partitions are reasoned about on "walls": the local wall-clock time of the partition's
 * timezone, held in a UTC DateTime so calendar arithmetic (next day, next month) ignores DST.
 * A wall becomes an instant only through `localize`, which is where DST is resolved.
 */

type Token = "Y" | "m" | "d" | "H" | "M";
export type FormatPart = { readonly token: Token } | { readonly literal: string };

const TOKENS: ReadonlySet<string> = new Set(["Y", "m", "d", "H", "M"]);

/** Split a strftime-style format into tokens and literal text; throws on tokens Baton cannot round-trip. */
export function formatParts(format: string): FormatPart[] {
  const parts: FormatPart[] = [];
  let literal = "";
  for (let i = 0; i < format.length; i++) {
    const c = format[i];
    if (c !== "%") {
      literal += c;
      continue;
    }
    const t = format[i + 1];
    i++;
    if (t === "%") {
      literal += "%";
    } else if (t !== undefined && TOKENS.has(t)) {
      if (literal) parts.push({ literal });
      literal = "";
      parts.push({ token: t as Token });
    } else {
      throw new BatonError("INVALID_PARTITIONS", `format ${JSON.stringify(format)} uses unsupported token "%${t ?? ""}"`, {
        hint: "use only %Y %m %d %H %M (and %% for a literal %), e.g. \"%Y-%m-%d\"",
      });
    }
  }
  if (literal) parts.push({ literal });
  return parts;
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, "0");
}

function formatWall(parts: readonly FormatPart[], wall: DateTime): string {
  let out = "";
  for (const p of parts) {
    if ("literal" in p) out += p.literal;
    else if (p.token === "Y") out += pad(wall.year, 4);
    else if (p.token === "m") out += pad(wall.month, 2);
    else if (p.token === "d") out += pad(wall.day, 2);
    else if (p.token === "H") out += pad(wall.hour, 2);
    else out += pad(wall.minute, 2);
  }
  return out;
}

function parseWall(parts: readonly FormatPart[], key: string): DateTime | undefined {
  let rest = key;
  const fields: Record<Token, number> = { Y: 0, m: 1, d: 1, H: 0, M: 0 };
  for (const p of parts) {
    if ("literal" in p) {
      if (!rest.startsWith(p.literal)) return undefined;
      rest = rest.slice(p.literal.length);
      continue;
    }
    // Fixed widths (as strftime pads) make formats without separators, like %Y%m%d, parseable.
    const width = p.token === "Y" ? 4 : 2;
    const digits = rest.slice(0, width);
    if (!/^\d+$/.test(digits) || digits.length !== width) return undefined;
    fields[p.token] = Number(digits);
    rest = rest.slice(width);
  }
  if (rest !== "") return undefined;
  const wall = DateTime.fromObject({ year: fields.Y, month: fields.m, day: fields.d, hour: fields.H, minute: fields.M }, { zone: "utc" });
  return wall.isValid ? wall : undefined;
}

/** The wall-clock time of an instant in `zone`, as a UTC DateTime. */
function wallOf(dt: DateTime): DateTime {
  return DateTime.utc(dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second, dt.millisecond);
}

/**
 * The instant a wall time means in `zone`: the earlier one when the wall time happens twice (DST
 * fall-back), the first instant after the gap when it does not happen (spring-forward).
 */
export function localize(wall: DateTime, zone: string): DateTime {
  const dt = DateTime.fromObject(
    { year: wall.year, month: wall.month, day: wall.day, hour: wall.hour, minute: wall.minute, second: wall.second, millisecond: wall.millisecond },
    { zone },
  );
  // luxon picks the later of two candidates; a window must start at the first one.
  const shift = dt.minus({ hours: 24 }).offset - dt.offset;
  if (shift > 0) {
    const earlier = dt.minus({ minutes: shift });
    if (wallOf(earlier).toMillis() === wall.toMillis()) return earlier;
  }
  return dt;
}

const ISO_LOCAL = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2}))?)?$/;

/** Parse an ISO local date or date-time ("2024-01-01", "2024-01-01T06:00") that exists in `zone`. */
export function parseLocalIso(text: string, zone: string): DateTime | undefined {
  const m = ISO_LOCAL.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m;
  const wall = DateTime.fromObject(
    { year: Number(y), month: Number(mo), day: Number(d), hour: Number(h ?? 0), minute: Number(mi ?? 0), second: Number(s ?? 0) },
    { zone: "utc" },
  );
  if (!wall.isValid) return undefined;
  // A wall time inside a DST gap never happens in the zone.
  if (wallOf(localize(wall, zone)).toMillis() !== wall.toMillis()) return undefined;
  return wall;
}

const STEP: Readonly<Record<TimeGrain, DurationLikeObject>> = {
  hourly: { hours: 1 },
  daily: { days: 1 },
  weekly: { weeks: 1 },
  monthly: { months: 1 },
};

/** The wall time of the start of the window containing `wall`. */
export function floorWall(grain: TimeGrain, wall: DateTime, weekStartsOn = 1): DateTime {
  switch (grain) {
    case "hourly":
      return wall.startOf("hour");
    case "daily":
      return wall.startOf("day");
    case "weekly": {
      const first = weekStartsOn === 0 ? 7 : weekStartsOn; // luxon: 1 = Monday … 7 = Sunday
      return wall.startOf("day").minus({ days: (wall.weekday - first + 7) % 7 });
    }
    case "monthly":
      return wall.startOf("month");
  }
}

interface Calendar {
  readonly def: TimePartitionsDefinition;
  readonly parts: readonly FormatPart[];
  readonly first: DateTime;
  /** Wall time of the exclusive end bound. */
  readonly end: DateTime | undefined;
}

const calendars = new WeakMap<TimePartitionsDefinition, Calendar>();

function calendarOf(def: TimePartitionsDefinition): Calendar {
  const cached = calendars.get(def);
  if (cached) return cached;
  const first = parseLocalIso(def.start, def.timezone);
  const end = def.end === undefined ? undefined : parseLocalIso(def.end, def.timezone);
  if (!first || (def.end !== undefined && !end) || !STEP[def.grain]) {
    throw new BatonError("INVALID_PARTITIONS", `invalid time partitions definition ${JSON.stringify(def)}`, {
      hint: "build it with hourlyPartitions/dailyPartitions/weeklyPartitions/monthlyPartitions, or check it with validatePartitionsDefinition",
    });
  }
  const cal: Calendar = { def, parts: formatParts(def.format), first, end };
  calendars.set(def, cal);
  return cal;
}

/** Hourly walls inside a DST gap do not exist; every other grain's walls always do. */
function exists(cal: Calendar, wall: DateTime): boolean {
  return cal.def.grain !== "hourly" || wallOf(localize(wall, cal.def.timezone)).toMillis() === wall.toMillis();
}

function step(cal: Calendar, wall: DateTime, direction: 1 | -1): DateTime {
  const unit = STEP[cal.def.grain];
  let w = direction === 1 ? wall.plus(unit) : wall.minus(unit);
  while (!exists(cal, w)) w = direction === 1 ? w.plus(unit) : w.minus(unit);
  return w;
}

function instant(cal: Calendar, wall: DateTime): DateTime {
  return localize(wall, cal.def.timezone);
}

function inBounds(cal: Calendar, wall: DateTime): boolean {
  return wall >= cal.first && (cal.end === undefined || wall < cal.end);
}

function floorInstant(cal: Calendar, at: DateTime): DateTime {
  return floorWall(cal.def.grain, wallOf(at.setZone(cal.def.timezone)), cal.def.weekStartsOn ?? 1);
}

/** Wall of the key's window when `key` is a well-formed window start (bounds not checked). */
function wallOfKey(cal: Calendar, key: string): DateTime | undefined {
  const wall = parseWall(cal.parts, key);
  if (!wall || formatWall(cal.parts, wall) !== key) return undefined;
  if (floorWall(cal.def.grain, wall, cal.def.weekStartsOn ?? 1).toMillis() !== wall.toMillis()) return undefined;
  return exists(cal, wall) ? wall : undefined;
}

/** Wall of the last window that ended at or before `at`, ignoring the start bound. */
function lastCompleteWall(cal: Calendar, at: Date): DateTime {
  let wall = step(cal, floorInstant(cal, DateTime.fromJSDate(at)), -1);
  if (cal.end !== undefined && wall >= cal.end) wall = step(cal, cal.end, -1);
  return wall;
}

function isComplete(cal: Calendar, wall: DateTime, now: Date): boolean {
  return instant(cal, step(cal, wall, 1)).toMillis() <= now.getTime();
}

function keyOf(cal: Calendar, wall: DateTime): string {
  return formatWall(cal.parts, wall);
}

function walls(cal: Calendar, from: DateTime, to: DateTime): DateTime[] {
  const out: DateTime[] = [];
  for (let w = from; w <= to; w = step(cal, w, 1)) out.push(w);
  return out;
}

/** Keys of every complete partition (static: all keys), in partition order. */
export function partitionKeys(def: PartitionsDefinition, now: Date = new Date()): string[] {
  if (def.type === "static") return [...def.keys];
  const cal = calendarOf(def);
  return walls(cal, cal.first, lastCompleteWall(cal, now)).map((w) => keyOf(cal, w));
}

export function hasPartitionKey(def: PartitionsDefinition, key: string, now: Date = new Date()): boolean {
  if (def.type === "static") return def.keys.includes(key);
  const cal = calendarOf(def);
  const wall = wallOfKey(cal, key);
  return wall !== undefined && inBounds(cal, wall) && isComplete(cal, wall, now);
}

const LIST_LIMIT = 20;

function listKeys(keys: readonly string[]): string {
  const shown = keys.slice(0, LIST_LIMIT).join(", ");
  return keys.length > LIST_LIMIT ? `${shown}, … (${keys.length - LIST_LIMIT} more)` : shown;
}

function validRange(def: PartitionsDefinition, now: Date): string {
  if (def.type === "static") return `valid keys: ${listKeys(def.keys)}`;
  const cal = calendarOf(def);
  const last = lastCompleteWall(cal, now);
  const first = keyOf(cal, cal.first);
  if (last < cal.first) {
    return `no partition is complete yet; the first, "${first}", ends at ${instant(cal, step(cal, cal.first, 1)).toISO()}`;
  }
  return `valid keys run from "${first}" to "${keyOf(cal, last)}" (${def.grain}, format "${def.format}", ${def.timezone})`;
}

function unknownKey(def: PartitionsDefinition, key: string, assetId: string | undefined, now: Date, why = ""): BatonError {
  return new BatonError("UNKNOWN_PARTITION", `unknown partition key ${JSON.stringify(key)}${why}`, {
    asset: assetId,
    hint: validRange(def, now),
  });
}

/** Throws UNKNOWN_PARTITION (naming the asset and the valid range) unless `key` is a partition of `def`. */
export function assertPartitionKey(def: PartitionsDefinition, key: string, assetId?: string, now: Date = new Date()): void {
  if (hasPartitionKey(def, key, now)) return;
  let why = "";
  if (def.type === "time") {
    const cal = calendarOf(def);
    const wall = wallOfKey(cal, key);
    if (wall === undefined) why = ` (not a ${def.grain} window start in format "${def.format}")`;
    else if (!inBounds(cal, wall)) why = " (outside the partitions' start/end)";
    else why = ` (its window ends at ${instant(cal, step(cal, wall, 1)).toISO()}, after ${DateTime.fromJSDate(now).toUTC().toISO()})`;
  }
  throw unknownKey(def, key, assetId, now, why);
}

/** The time window [start, end) of a key; throws UNKNOWN_PARTITION for a key outside the definition. */
export function timeWindowOf(def: TimePartitionsDefinition, key: string): TimeWindow {
  const cal = calendarOf(def);
  const wall = checkedWall(cal, key);
  return { start: instant(cal, wall).toJSDate(), end: instant(cal, step(cal, wall, 1)).toJSDate() };
}

/** Like timeWindowOf's check, but without requiring the window to be complete. */
function checkedWall(cal: Calendar, key: string, assetId?: string): DateTime {
  const wall = wallOfKey(cal, key);
  if (wall === undefined || !inBounds(cal, wall)) {
    const range = cal.end === undefined ? `from "${keyOf(cal, cal.first)}" on` : `from "${keyOf(cal, cal.first)}" to "${keyOf(cal, step(cal, cal.end, -1))}"`;
    throw new BatonError("UNKNOWN_PARTITION", `unknown partition key ${JSON.stringify(key)}`, {
      asset: assetId,
      hint: `keys are ${cal.def.grain} window starts in format "${cal.def.format}" (${cal.def.timezone}), ${range}`,
    });
  }
  return wall;
}

/** The key of the window containing `at`; throws UNKNOWN_PARTITION when `at` is outside the definition. */
export function keyForTime(def: TimePartitionsDefinition, at: Date): string {
  const cal = calendarOf(def);
  const wall = floorInstant(cal, DateTime.fromJSDate(at));
  if (!inBounds(cal, wall)) {
    throw new BatonError("UNKNOWN_PARTITION", `no ${def.grain} partition contains ${at.toISOString()}`, {
      hint: `partitions start at ${def.start}${def.end === undefined ? "" : ` and end before ${def.end}`} (${def.timezone})`,
    });
  }
  return keyOf(cal, wall);
}

/**
 * The last window that ended at or before `at` (clamped to the end bound), `offset` windows further
 * back; undefined when that window would be before the first one.
 */
export function lastCompleteKey(def: TimePartitionsDefinition, at: Date, offset = 0): string | undefined {
  if (!Number.isInteger(offset) || offset < 0) {
    throw new BatonError("INVALID_DEFINITION", `partition offset ${offset} is not a whole number >= 0`, {
      hint: "use offset: 0 for the last complete window, 1 for the one before, and so on",
    });
  }
  const cal = calendarOf(def);
  let wall = lastCompleteWall(cal, at);
  for (let i = 0; i < offset && wall >= cal.first; i++) wall = step(cal, wall, -1);
  return wall >= cal.first ? keyOf(cal, wall) : undefined;
}

/** Keys from range.start to range.end inclusive; both must be partition keys and in order. */
export function keysInRange(def: PartitionsDefinition, range: PartitionKeyRange, now: Date = new Date(), assetId?: string): string[] {
  assertPartitionKey(def, range.start, assetId, now);
  assertPartitionKey(def, range.end, assetId, now);
  const reversed = () =>
    new BatonError("UNKNOWN_PARTITION", `partition range "${range.start}" … "${range.end}" ends before it starts`, {
      asset: assetId,
      hint: `swap them: start "${range.end}", end "${range.start}"`,
    });
  if (def.type === "static") {
    const from = def.keys.indexOf(range.start);
    const to = def.keys.indexOf(range.end);
    if (from > to) throw reversed();
    return def.keys.slice(from, to + 1);
  }
  const cal = calendarOf(def);
  const from = checkedWall(cal, range.start, assetId);
  const to = checkedWall(cal, range.end, assetId);
  if (from > to) throw reversed();
  return walls(cal, from, to).map((w) => keyOf(cal, w));
}

/** From the earliest key's window start to the latest key's window end. */
export function timeWindowOfKeys(def: TimePartitionsDefinition, keys: readonly string[]): TimeWindow {
  if (keys.length === 0) {
    throw new BatonError("UNKNOWN_PARTITION", "no partition keys given, so there is no time window", {
      hint: "pass at least one partition key",
    });
  }
  const windows = keys.map((k) => timeWindowOf(def, k));
  const start = Math.min(...windows.map((w) => w.start.getTime()));
  const end = Math.max(...windows.map((w) => w.end.getTime()));
  return { start: new Date(start), end: new Date(end) };
}

/** Format an instant's wall time in the definition's timezone (no rounding to a window start). */
export function formatKey(def: TimePartitionsDefinition, at: DateTime | Date): string {
  const dt = at instanceof Date ? DateTime.fromJSDate(at) : at;
  return formatWall(calendarOf(def).parts, wallOf(dt.setZone(def.timezone)));
}

/** Parse a key with the definition's format into the instant it names, in the definition's timezone. */
export function parseKey(def: TimePartitionsDefinition, key: string): DateTime {
  const cal = calendarOf(def);
  const wall = parseWall(cal.parts, key);
  if (!wall) {
    throw new BatonError("UNKNOWN_PARTITION", `partition key ${JSON.stringify(key)} does not match format "${def.format}"`, {
      hint: `write it as ${formatWall(cal.parts, cal.first)} (the first partition's key)`,
    });
  }
  return instant(cal, wall);
}

/** Sort keys of one definition into partition order (time: chronological; static: declaration order). */
export function sortKeys(def: PartitionsDefinition, keys: Iterable<string>): string[] {
  const unique = [...new Set(keys)];
  if (def.type === "static") {
    const index = new Map(def.keys.map((k, i) => [k, i]));
    return unique.sort((a, b) => (index.get(a) ?? Infinity) - (index.get(b) ?? Infinity));
  }
  const cal = calendarOf(def);
  const at = (k: string) => parseWall(cal.parts, k)?.toMillis() ?? Infinity;
  return unique.sort((a, b) => at(a) - at(b));
}

/** Keys whose window overlaps [start, end), clipped to the definition's start/end (not to "now"). */
export function keysOverlapping(def: TimePartitionsDefinition, window: TimeWindow): string[] {
  const cal = calendarOf(def);
  const out: string[] = [];
  let wall = floorInstant(cal, DateTime.fromJSDate(window.start));
  if (wall < cal.first) wall = cal.first;
  for (; instant(cal, wall).toMillis() < window.end.getTime(); wall = step(cal, wall, 1)) {
    if (cal.end !== undefined && wall >= cal.end) break;
    out.push(keyOf(cal, wall));
  }
  return out;
}
