import { DateTime, IANAZone } from "luxon";
import { BatonError } from "../errors.js";
import type { PartitionKeyRange, PartitionsDefinition, TimeGrain, TimePartitionsDefinition, TimeWindow } from "./types.js";

/*
 * Time partitions are reasoned about on "walls": the local wall-clock time in the partitions'
 * timezone, held as epoch ms of that time read as UTC, so calendar arithmetic (next day, next
 * month) ignores DST. A wall becomes an instant only through `resolve`, where DST is handled.
 *
 * A window is identified by its start instant, as in Dagster: daily, weekly and monthly windows
 * start at the first occurrence of their wall time (or, inside a DST gap, when the clocks jump);
 * hourly windows start at every instant whose wall time is on the hour, so the hour that a
 * fall-back repeats is two windows. The second one's key carries its UTC offset, as Dagster
 * writes it: "2024-11-03-01:00" and "2024-11-03-01:00-0500" (America/New_York).
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

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function pad(n: number, width: number): string {
  return String(n).padStart(width, "0");
}

/** A wall (ms of a UTC-naive time) from its fields; NaN when a field overflows (Feb 30, hour 24). */
function wallFrom(y: number, mo: number, d: number, h = 0, mi = 0, s = 0): number {
  const dt = new Date(0);
  dt.setUTCFullYear(y, mo - 1, d); // unlike Date.UTC, keeps years 0-99 as written
  dt.setUTCHours(h, mi, s, 0);
  const ok = dt.getUTCFullYear() === y && dt.getUTCMonth() === mo - 1 && dt.getUTCDate() === d && dt.getUTCHours() === h && dt.getUTCMinutes() === mi && dt.getUTCSeconds() === s;
  return ok ? dt.getTime() : NaN;
}

function formatWall(parts: readonly FormatPart[], wall: number): string {
  const dt = new Date(wall);
  let out = "";
  for (const p of parts) {
    if ("literal" in p) out += p.literal;
    else if (p.token === "Y") out += pad(dt.getUTCFullYear(), 4);
    else if (p.token === "m") out += pad(dt.getUTCMonth() + 1, 2);
    else if (p.token === "d") out += pad(dt.getUTCDate(), 2);
    else if (p.token === "H") out += pad(dt.getUTCHours(), 2);
    else out += pad(dt.getUTCMinutes(), 2);
  }
  return out;
}

function parseWall(parts: readonly FormatPart[], key: string): number | undefined {
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
  const wall = wallFrom(fields.Y, fields.m, fields.d, fields.H, fields.M);
  return Number.isNaN(wall) ? undefined : wall;
}

type OffsetFn = (instant: number) => number;
const offsetFns = new Map<string, OffsetFn>();

/** Offsets are looked up per 32-day chunk, sampled daily: assumes a zone changes offset at most once a day. */
const CHUNK = 32 * DAY;

interface Chunk {
  /** offsets[0] from the chunk's start; offsets[i + 1] from changes[i] on. */
  readonly offsets: number[];
  readonly changes: number[];
}

/**
 * UTC offset in ms of `zone` at an instant. luxon's zone lookups are slow and hourly scans make
 * many, so each zone's offsets are found once per chunk of time (its transitions located to the ms).
 */
function offsetFn(zone: string): OffsetFn {
  let fn = offsetFns.get(zone);
  if (fn) return fn;
  if (zone === "UTC" || zone === "Etc/UTC") {
    fn = () => 0;
  } else {
    const z = IANAZone.create(zone);
    const raw = (t: number) => z.offset(t) * 60_000;
    const chunks = new Map<number, Chunk>();
    const build = (i: number): Chunk => {
      const start = i * CHUNK;
      const chunk: Chunk = { offsets: [raw(start)], changes: [] };
      let prevT = start;
      let prevO = chunk.offsets[0] as number;
      for (let d = 1; d <= CHUNK / DAY; d++) {
        const t = start + d * DAY;
        const o = raw(t);
        if (o !== prevO) {
          let lo = prevT;
          let hi = t;
          while (hi - lo > 1) {
            const mid = Math.floor((lo + hi) / 2);
            if (raw(mid) === prevO) lo = mid;
            else hi = mid;
          }
          if (hi < start + CHUNK) {
            chunk.changes.push(hi);
            chunk.offsets.push(o);
          }
        }
        prevT = t;
        prevO = o;
      }
      chunks.set(i, chunk);
      return chunk;
    };
    fn = (t) => {
      const i = Math.floor(t / CHUNK);
      const c = chunks.get(i) ?? build(i);
      let k = 0;
      while (k < c.changes.length && t >= (c.changes[k] as number)) k++;
      return c.offsets[k] as number;
    };
  }
  offsetFns.set(zone, fn);
  return fn;
}

interface Resolved {
  /** The instant (epoch ms). */
  readonly t: number;
  /** The zone's offset at that instant; t + offset differs from the wall inside a DST gap. */
  readonly offset: number;
}

/**
 * The instant a wall time means: the earlier one when the wall time happens twice (DST fall-back),
 * the wall read with the pre-gap offset when it does not happen (spring-forward; 02:30 -> 03:30),
 * so a day whose midnight is skipped starts when the clocks jump. Assumes no zone changes offset
 * twice within 30 hours.
 */
function resolve(off: OffsetFn, wall: number): Resolved {
  const before = off(wall - 30 * HOUR);
  const after = off(wall + 30 * HOUR);
  const early = wall - before;
  const earlyOffset = off(early);
  if (earlyOffset === before || before === after) return { t: early, offset: earlyOffset };
  const late = wall - after;
  const lateOffset = off(late);
  return lateOffset === after ? { t: late, offset: lateOffset } : { t: early, offset: earlyOffset };
}

function wallAt(off: OffsetFn, instant: number): number {
  return instant + off(instant);
}

/**
 * The instants at which `zone`'s clocks show `wall` (none in a DST gap, two in a repeated hour), and
 * the one a single event at that wall time means: the first, or in a gap the wall read with the
 * offset before the gap. For cron ticks (cron.ts), which follow the same rule as windows.
 */
export function instantsOfWall(zone: string, wall: number): { readonly all: readonly number[]; readonly first: number } {
  const off = offsetFn(zone);
  const all = [...new Set([wall - off(wall - 30 * HOUR), wall - off(wall + 30 * HOUR)])].filter((t) => wallAt(off, t) === wall).sort((a, b) => a - b);
  return { all, first: resolve(off, wall).t };
}

/** The wall time `zone`'s clocks show at an instant. */
export function wallOfInstant(zone: string, instant: number): number {
  return wallAt(offsetFn(zone), instant);
}

const ISO_LOCAL = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2}))?)?$/;

/** Parse an ISO local date or date-time ("2024-01-01", "2024-01-01T06:00") that exists in `zone`, as a wall. */
export function parseLocalIso(text: string, zone: string): number | undefined {
  const m = ISO_LOCAL.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m;
  const wall = wallFrom(Number(y), Number(mo), Number(d), Number(h ?? 0), Number(mi ?? 0), Number(s ?? 0));
  if (Number.isNaN(wall)) return undefined;
  // A wall time inside a DST gap never happens in the zone.
  const r = resolve(offsetFn(zone), wall);
  return r.t + r.offset === wall ? wall : undefined;
}

function mod(a: number, b: number): number {
  return ((a % b) + b) % b;
}

function monthStart(wall: number, months: number): number {
  const dt = new Date(wall);
  const first = new Date(0);
  first.setUTCFullYear(dt.getUTCFullYear(), dt.getUTCMonth() + months, 1);
  return first.getTime();
}

/** The wall of the start of the window containing `wall`. weekStartsOn: 0 = Sunday, as getUTCDay. */
export function floorWall(grain: TimeGrain, wall: number, weekStartsOn = 1): number {
  switch (grain) {
    case "hourly":
      return wall - mod(wall, HOUR);
    case "daily":
      return wall - mod(wall, DAY);
    case "weekly": {
      const day = wall - mod(wall, DAY);
      return day - mod(new Date(day).getUTCDay() - weekStartsOn, 7) * DAY;
    }
    case "monthly":
      return monthStart(wall, 0);
  }
}

/** The next (or previous) window's wall, by calendar arithmetic only (not for hourly windows). */
function shift(grain: TimeGrain, wall: number, direction: 1 | -1): number {
  switch (grain) {
    case "hourly":
      return wall + direction * HOUR;
    case "daily":
      return wall + direction * DAY;
    case "weekly":
      return wall + direction * 7 * DAY;
    case "monthly":
      return monthStart(wall, direction);
  }
}

/** The first instant in (a, b] whose offset differs from a's (one change at most in between). */
function change(off: OffsetFn, a: number, b: number): number {
  const o = off(a);
  let lo = a;
  let hi = b;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (off(mid) === o) lo = mid;
    else hi = mid;
  }
  return hi;
}

/** The first instant after `t` whose wall time is on the hour (two per wall hour when clocks go back). */
function nextHourStart(off: OffsetFn, t: number): number {
  let from = t + 1;
  for (;;) {
    const o = off(from);
    const c = from + mod(-(from + o), HOUR);
    if (off(c) === o) return c;
    from = change(off, from, c);
  }
}

/** The last instant before `t` whose wall time is on the hour. */
function previousHourStart(off: OffsetFn, t: number): number {
  let to = t - 1;
  for (;;) {
    const o = off(to);
    const c = to - mod(to + o, HOUR);
    if (off(c) === o) return c;
    to = change(off, c, to) - 1;
  }
}

interface Calendar {
  readonly def: TimePartitionsDefinition;
  readonly grain: TimeGrain;
  readonly off: OffsetFn;
  readonly parts: readonly FormatPart[];
  readonly weekStartsOn: number;
  /** Start instant of the first window. */
  readonly first: number;
  /** Instant of the exclusive end bound (the start of the first window after the last). */
  readonly end: number | undefined;
}

const calendars = new WeakMap<TimePartitionsDefinition, Calendar>();
const GRAINS: ReadonlySet<string> = new Set(["hourly", "daily", "weekly", "monthly"]);

function calendarOf(def: TimePartitionsDefinition): Calendar {
  const cached = calendars.get(def);
  if (cached) return cached;
  if (typeof def.timezone !== "string" || !IANAZone.isValidZone(def.timezone)) {
    throw new BatonError("INVALID_TIMEZONE", `partitions timezone ${JSON.stringify(def.timezone)} is not an IANA timezone`, {
      hint: 'use a name such as "UTC" or "Europe/Paris"',
    });
  }
  const first = parseLocalIso(def.start, def.timezone);
  const end = def.end === undefined ? undefined : parseLocalIso(def.end, def.timezone);
  if (first === undefined || (def.end !== undefined && end === undefined) || !GRAINS.has(def.grain)) {
    throw new BatonError("INVALID_PARTITIONS", `invalid time partitions definition ${JSON.stringify(def)}`, {
      hint: "build it with hourlyPartitions/dailyPartitions/weeklyPartitions/monthlyPartitions, or check it with validatePartitionsDefinition",
    });
  }
  const off = offsetFn(def.timezone);
  const cal: Calendar = {
    def,
    grain: def.grain,
    off,
    parts: formatParts(def.format),
    weekStartsOn: def.weekStartsOn ?? 1,
    first: resolve(off, first).t,
    end: end === undefined ? undefined : resolve(off, end).t,
  };
  calendars.set(def, cal);
  return cal;
}

/** The wall of the window starting at `t`. */
function wallOf(cal: Calendar, t: number): number {
  const wall = wallAt(cal.off, t);
  return cal.grain === "hourly" ? wall : floorWall(cal.grain, wall, cal.weekStartsOn);
}

/** The start of the next (or previous) window. */
function step(cal: Calendar, t: number, direction: 1 | -1): number {
  if (cal.grain === "hourly") return direction === 1 ? nextHourStart(cal.off, t) : previousHourStart(cal.off, t);
  return resolve(cal.off, shift(cal.grain, wallOf(cal, t), direction)).t;
}

/** The start of the window containing the instant `at`. */
function containing(cal: Calendar, at: number): number {
  if (cal.grain === "hourly") return previousHourStart(cal.off, at + 1);
  let t = resolve(cal.off, floorWall(cal.grain, wallAt(cal.off, at), cal.weekStartsOn)).t;
  while (t > at) t = step(cal, t, -1);
  return t;
}

/** "+HHMM" / "-HHMM" (and seconds when there are some), as Python's %z. */
function utcOffsetText(offset: number): string {
  const abs = Math.abs(Math.round(offset / 1000));
  const s = abs % 60;
  return `${offset < 0 ? "-" : "+"}${pad(Math.floor(abs / 3600), 2)}${pad(Math.floor(abs / 60) % 60, 2)}${s ? pad(s, 2) : ""}`;
}

/** An hourly window that starts at the second occurrence of its wall time (a fall-back's repeated hour). */
function isRepeat(cal: Calendar, t: number): boolean {
  return cal.grain === "hourly" && resolve(cal.off, wallAt(cal.off, t)).t < t;
}

function keyOf(cal: Calendar, t: number): string {
  const key = formatWall(cal.parts, wallOf(cal, t));
  return isRepeat(cal, t) ? key + utcOffsetText(cal.off(t)) : key;
}

const OFFSET_SUFFIX = /([+-])(\d{2})(\d{2})(\d{2})?$/;

/** The instant a key names (its window's start when it is one), or undefined when it does not parse. */
function instantOfKey(cal: Calendar, key: string): number | undefined {
  const wall = parseWall(cal.parts, key);
  if (wall !== undefined) return resolve(cal.off, wall).t;
  // Dagster's form for the second pass of a repeated hour: the key, then the UTC offset.
  const m = OFFSET_SUFFIX.exec(key);
  if (!m) return undefined;
  const base = parseWall(cal.parts, key.slice(0, m.index));
  if (base === undefined) return undefined;
  const [, sign, h, mi, s] = m;
  const offset = (sign === "-" ? -1 : 1) * (Number(h) * HOUR + Number(mi) * 60_000 + Number(s ?? 0) * 1000);
  return base - offset;
}

/** Start of the key's window when `key` is exactly a window start's key (bounds not checked). */
function startOfKey(cal: Calendar, key: string): number | undefined {
  const t = instantOfKey(cal, key);
  if (t === undefined) return undefined;
  const start = containing(cal, t);
  return start === t && keyOf(cal, start) === key ? start : undefined;
}

function iso(cal: Calendar, t: number): string {
  return DateTime.fromMillis(t, { zone: cal.def.timezone }).toISO() ?? new Date(t).toISOString();
}

function inBounds(cal: Calendar, t: number): boolean {
  return t >= cal.first && (cal.end === undefined || t < cal.end);
}

/** Start of the last window that ended at or before `at`, clamped to the end bound, ignoring the start. */
function lastCompleteStart(cal: Calendar, at: number): number {
  const t = step(cal, containing(cal, at), -1);
  return cal.end !== undefined && t >= cal.end ? step(cal, cal.end, -1) : t;
}

function endOf(cal: Calendar, t: number): number {
  return step(cal, t, 1);
}

/** Window starts from `from` on while `more(start)` holds. */
function scan(cal: Calendar, from: number, more: (start: number) => boolean): number[] {
  const out: number[] = [];
  for (let t = from; more(t); t = step(cal, t, 1)) out.push(t);
  return out;
}

/** Keys of every complete partition (static: all keys), in partition order. */
export function partitionKeys(def: PartitionsDefinition, now: Date = new Date()): string[] {
  if (def.type === "static") return [...def.keys];
  const cal = calendarOf(def);
  const last = lastCompleteStart(cal, now.getTime());
  return scan(cal, cal.first, (t) => t <= last).map((t) => keyOf(cal, t));
}

export function hasPartitionKey(def: PartitionsDefinition, key: string, now: Date = new Date()): boolean {
  if (def.type === "static") return def.keys.includes(key);
  const cal = calendarOf(def);
  const t = startOfKey(cal, key);
  return t !== undefined && inBounds(cal, t) && endOf(cal, t) <= now.getTime();
}

const LIST_LIMIT = 20;

function listKeys(keys: readonly string[]): string {
  const shown = keys
    .slice(0, LIST_LIMIT)
    .map((k) => JSON.stringify(k))
    .join(", ");
  return keys.length > LIST_LIMIT ? `${shown}, … (${keys.length - LIST_LIMIT} more)` : shown;
}

function validRange(def: PartitionsDefinition, now: Date): string {
  if (def.type === "static") return `valid keys: ${listKeys(def.keys)}`;
  const cal = calendarOf(def);
  const last = lastCompleteStart(cal, now.getTime());
  const first = keyOf(cal, cal.first);
  if (last < cal.first) return `no partition is complete yet: the first, "${first}", ends at ${iso(cal, endOf(cal, cal.first))}`;
  return `valid keys run from "${first}" to "${keyOf(cal, last)}" (${def.grain} windows, format "${def.format}", ${def.timezone})`;
}

/** Throws UNKNOWN_PARTITION (naming the asset and the valid range) unless `key` is a partition of `def`. */
export function assertPartitionKey(def: PartitionsDefinition, key: string, assetId?: string, now: Date = new Date()): void {
  if (hasPartitionKey(def, key, now)) return;
  let why = "";
  if (def.type === "time") {
    const cal = calendarOf(def);
    const t = startOfKey(cal, key);
    if (t === undefined) why = ` (not the start of a ${def.grain} window in format "${def.format}")`;
    else if (!inBounds(cal, t)) why = " (outside the partitions' start and end)";
    else why = ` (its window is not complete: it ends at ${iso(cal, endOf(cal, t))})`;
  }
  throw new BatonError("UNKNOWN_PARTITION", `unknown partition key ${JSON.stringify(key)}${why}`, { asset: assetId, hint: validRange(def, now) });
}

/** The start of a key's window in the definition's start/end; the window need not be complete. */
function checkedStart(cal: Calendar, key: string, assetId?: string): number {
  const t = startOfKey(cal, key);
  if (t === undefined || !inBounds(cal, t)) {
    const last = cal.end === undefined ? "on" : `to "${keyOf(cal, step(cal, cal.end, -1))}"`;
    throw new BatonError("UNKNOWN_PARTITION", `unknown partition key ${JSON.stringify(key)}`, {
      asset: assetId,
      hint: `keys are ${cal.grain} window starts in format "${cal.def.format}" (${cal.def.timezone}), from "${keyOf(cal, cal.first)}" ${last}`,
    });
  }
  return t;
}

/** The time window [start, end) of a key; throws UNKNOWN_PARTITION for a key outside the definition. */
export function timeWindowOf(def: TimePartitionsDefinition, key: string, assetId?: string): TimeWindow {
  const cal = calendarOf(def);
  const t = checkedStart(cal, key, assetId);
  return { start: new Date(t), end: new Date(endOf(cal, t)) };
}

/** The key of the window containing `at`; throws UNKNOWN_PARTITION when `at` is outside the definition. */
export function keyForTime(def: TimePartitionsDefinition, at: Date): string {
  const cal = calendarOf(def);
  const t = containing(cal, at.getTime());
  if (!inBounds(cal, t)) {
    throw new BatonError("UNKNOWN_PARTITION", `no ${def.grain} partition contains ${at.toISOString()}`, {
      hint: `partitions start at ${def.start}${def.end === undefined ? "" : ` and end before ${def.end}`} (${def.timezone})`,
    });
  }
  return keyOf(cal, t);
}

/**
 * The last window that ended at or before `at` (clamped to the end bound), `offset` windows further
 * back; undefined when that would be before the first window.
 */
export function lastCompleteKey(def: TimePartitionsDefinition, at: Date, offset = 0): string | undefined {
  if (!Number.isInteger(offset) || offset < 0) {
    throw new BatonError("INVALID_DEFINITION", `partition offset ${offset} is not a whole number >= 0`, {
      hint: "use offset 0 for the last complete window, 1 for the one before, and so on",
    });
  }
  const cal = calendarOf(def);
  let t = lastCompleteStart(cal, at.getTime());
  for (let i = 0; i < offset && t >= cal.first; i++) t = step(cal, t, -1);
  return t >= cal.first ? keyOf(cal, t) : undefined;
}

/** Keys from range.start to range.end inclusive; both must be (complete) partition keys, in order. */
export function keysInRange(def: PartitionsDefinition, range: PartitionKeyRange, now: Date = new Date(), assetId?: string): string[] {
  assertPartitionKey(def, range.start, assetId, now);
  assertPartitionKey(def, range.end, assetId, now);
  const reversed = () =>
    new BatonError("UNKNOWN_PARTITION", `partition range "${range.start}" to "${range.end}" ends before it starts`, {
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
  const from = checkedStart(cal, range.start, assetId);
  const to = checkedStart(cal, range.end, assetId);
  if (from > to) throw reversed();
  return scan(cal, from, (t) => t <= to).map((t) => keyOf(cal, t));
}

/** From the earliest key's window start to the latest key's window end. */
export function timeWindowOfKeys(def: TimePartitionsDefinition, keys: readonly string[], assetId?: string): TimeWindow {
  if (keys.length === 0) {
    throw new BatonError("UNKNOWN_PARTITION", "no partition keys given, so there is no time window", { asset: assetId, hint: "pass at least one partition key" });
  }
  const windows = keys.map((k) => timeWindowOf(def, k, assetId));
  const start = Math.min(...windows.map((w) => w.start.getTime()));
  const end = Math.max(...windows.map((w) => w.end.getTime()));
  return { start: new Date(start), end: new Date(end) };
}

/**
 * Format an instant's wall time in the definition's timezone (not rounded to a window start); for
 * hourly partitions, an instant in the second pass of a repeated hour gets its UTC offset, as keys do.
 */
export function formatKey(def: TimePartitionsDefinition, at: DateTime | Date): string {
  const cal = calendarOf(def);
  const t = at.valueOf();
  const text = formatWall(cal.parts, wallAt(cal.off, t));
  return isRepeat(cal, t) ? text + utcOffsetText(cal.off(t)) : text;
}

/** Parse a key with the definition's format into the instant it names, in the definition's timezone. */
export function parseKey(def: TimePartitionsDefinition, key: string): DateTime {
  const cal = calendarOf(def);
  const t = instantOfKey(cal, key);
  if (t === undefined) {
    throw new BatonError("UNKNOWN_PARTITION", `partition key ${JSON.stringify(key)} does not match format "${def.format}"`, {
      hint: `write keys like "${keyOf(cal, cal.first)}" (the first partition's key)`,
    });
  }
  return DateTime.fromMillis(t, { zone: def.timezone });
}

/** Keys of one definition, de-duplicated, in partition order (time: chronological; static: declared). */
export function sortKeys(def: PartitionsDefinition, keys: Iterable<string>): string[] {
  const unique = [...new Set(keys)];
  if (def.type === "static") {
    const index = new Map(def.keys.map((k, i) => [k, i]));
    return unique.sort((a, b) => (index.get(a) ?? Infinity) - (index.get(b) ?? Infinity));
  }
  const cal = calendarOf(def);
  const at = new Map(unique.map((k) => [k, instantOfKey(cal, k) ?? Infinity]));
  return unique.sort((a, b) => (at.get(a) ?? 0) - (at.get(b) ?? 0));
}

/** Keys whose window overlaps `window`, within the definition's start/end (not limited to complete ones). */
export function keysOverlapping(def: TimePartitionsDefinition, window: TimeWindow): string[] {
  const cal = calendarOf(def);
  const from = Math.max(cal.first, containing(cal, window.start.getTime()));
  const end = window.end.getTime();
  return scan(cal, from, (t) => t < end && (cal.end === undefined || t < cal.end)).map((t) => keyOf(cal, t));
}
