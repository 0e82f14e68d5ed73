import { BatonError } from "./errors.js";

/** What selection needs to know about an asset; `id` is its key joined with "/". */
export interface SelectableAsset {
  id: string;
  group: string;
  tags: Readonly<Record<string, string>>;
  deps: readonly string[];
}

/** How far a term reaches along dependencies: 0 = not at all, "all" = transitively. */
export type Depth = number | "all";

export type SelectionTerm = { readonly text: string } & (
  | { readonly kind: "all" }
  | { readonly kind: "key"; readonly key: string; readonly upstream: Depth; readonly downstream: Depth }
  | { readonly kind: "prefix"; readonly prefix: string; readonly upstream: Depth; readonly downstream: Depth }
  | { readonly kind: "group"; readonly group: string; readonly upstream: Depth; readonly downstream: Depth }
  | { readonly kind: "tag"; readonly tag: string; readonly value: string | undefined; readonly upstream: Depth; readonly downstream: Depth }
);

const SYNTAX =
  'a selection is terms separated by spaces or commas: "*", a key ("sales/orders"), a key prefix ("sales/*"), "group:NAME", "tag:KEY" or "tag:KEY=VALUE", ' +
  'each optionally with "+" (all upstream) on the left and "+" (all downstream) on the right, or "N+" / "+N" for N levels';

const PART = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

function syntaxError(term: string, problem: string): BatonError {
  return new BatonError("UNKNOWN_SELECTION", `invalid selection term "${term}": ${problem}`, { hint: SYNTAX });
}

function depth(digits: string): Depth {
  return digits === "" ? "all" : Number(digits);
}

function parseTerm(text: string): SelectionTerm {
  if (text === "*") return { text, kind: "all" };
  const m = /^(?:(\d*)\+)?(.*?)(?:\+(\d*))?$/.exec(text);
  const body = m?.[2] ?? "";
  const upstream = m?.[1] === undefined ? 0 : depth(m[1]);
  const downstream = m?.[3] === undefined ? 0 : depth(m[3]);
  if (body === "") throw syntaxError(text, "nothing to select between the + signs");
  if (body.includes("+")) throw syntaxError(text, '"+" may only appear at the start or the end of a term');
  if (body === "*") throw syntaxError(text, '"*" already selects every asset; drop the "+"');
  const around = { upstream, downstream };
  if (body.startsWith("group:")) {
    const group = body.slice("group:".length);
    if (group === "") throw syntaxError(text, "missing group name after group:");
    return { text, kind: "group", group, ...around };
  }
  if (body.startsWith("tag:")) {
    const spec = body.slice("tag:".length);
    const eq = spec.indexOf("=");
    const tag = eq < 0 ? spec : spec.slice(0, eq);
    if (tag === "") throw syntaxError(text, "missing tag name after tag:");
    return { text, kind: "tag", tag, value: eq < 0 ? undefined : spec.slice(eq + 1), ...around };
  }
  const prefix = body.endsWith("/*");
  const key = prefix ? body.slice(0, -2) : body;
  if (!key.split("/").every((p) => PART.test(p))) {
    throw syntaxError(text, `"${key}" is not an asset key (path parts of letters, digits, '_', '.' or '-', joined by "/")`);
  }
  return prefix ? { text, kind: "prefix", prefix: key, ...around } : { text, kind: "key", key, ...around };
}

/** Parse a selection expression without resolving it; throws UNKNOWN_SELECTION on bad syntax. */
export function parseSelection(expression: string): SelectionTerm[] {
  const terms = (typeof expression === "string" ? expression : "").split(/[\s,]+/).filter((t) => t !== "");
  if (terms.length === 0) throw new BatonError("UNKNOWN_SELECTION", "the asset selection is empty", { hint: SYNTAX });
  return terms.map(parseTerm);
}

/** Plain Levenshtein distance; the lists compared are short. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length] ?? 0;
}

function suggest(wanted: string, candidates: Iterable<string>, what: string): string {
  const all = [...new Set(candidates)];
  const limit = Math.max(2, Math.floor(wanted.length / 3));
  const close = all
    .map((c) => ({ c, d: distance(wanted.toLowerCase(), c.toLowerCase()) }))
    .filter(({ c, d }) => d <= limit || c.startsWith(`${wanted}/`))
    .sort((x, y) => x.d - y.d)
    .slice(0, 5)
    .map(({ c }) => JSON.stringify(c));
  if (close.length > 0) return `did you mean ${close.join(", ")}?`;
  if (all.length === 0) return `there are no ${what}`;
  const shown = all.slice(0, 20).map((c) => JSON.stringify(c)).join(", ");
  return `available ${what}: ${shown}${all.length > 20 ? `, … (${all.length - 20} more)` : ""}`;
}

function unknown(term: SelectionTerm, problem: string, hint: string): BatonError {
  return new BatonError("UNKNOWN_SELECTION", `selection term "${term.text}": ${problem}`, { hint });
}

/** Nodes reachable from `start` within `limit` steps (its own visited set, so walks do not block each other). */
function walk(start: readonly string[], edges: ReadonlyMap<string, readonly string[]>, limit: Depth): Set<string> {
  const into = new Set(start);
  let frontier = start;
  for (let level = 0; frontier.length > 0 && (limit === "all" || level < limit); level++) {
    const next: string[] = [];
    for (const id of frontier) {
      for (const n of edges.get(id) ?? []) {
        if (!into.has(n)) {
          into.add(n);
          next.push(n);
        }
      }
    }
    frontier = next;
  }
  return into;
}

/** Ids of the assets matched by `expression`, in the order of `assets`. */
export function selectAssets(assets: readonly SelectableAsset[], expression: string): string[] {
  return assetSelector(assets)(expression);
}

/**
 * `selectAssets` over one list of assets, its graph built once (O(V+E)) for every expression
 * resolved afterwards: definitions() resolves each schedule's and sensor's selection with it.
 */
export function assetSelector(assets: readonly SelectableAsset[]): (expression: string) => string[] {
  const ids = new Set(assets.map((a) => a.id));
  const parents = new Map<string, string[]>();
  const children = new Map<string, string[]>();
  for (const a of assets) {
    // Deps outside the list (e.g. external sources) cannot be selected.
    const deps = a.deps.filter((d) => ids.has(d));
    parents.set(a.id, deps);
    for (const d of deps) {
      const c = children.get(d);
      if (c) c.push(a.id);
      else children.set(d, [a.id]);
    }
  }
  return (expression) => resolve(assets, ids, parents, children, expression);
}

function resolve(
  assets: readonly SelectableAsset[],
  ids: ReadonlySet<string>,
  parents: ReadonlyMap<string, readonly string[]>,
  children: ReadonlyMap<string, readonly string[]>,
  expression: string,
): string[] {
  const terms = parseSelection(expression);
  const selected = new Set<string>();
  for (const term of terms) {
    if (term.kind === "all") {
      for (const id of ids) selected.add(id);
      continue;
    }
    let base: string[];
    if (term.kind === "key") {
      if (!ids.has(term.key)) throw unknown(term, `no asset "${term.key}"`, suggest(term.key, ids, "asset keys"));
      base = [term.key];
    } else if (term.kind === "prefix") {
      base = assets.filter((a) => a.id.startsWith(`${term.prefix}/`)).map((a) => a.id);
      if (base.length === 0) throw unknown(term, `no asset key starts with "${term.prefix}/"`, suggest(term.prefix, ids, "asset keys"));
    } else if (term.kind === "group") {
      base = assets.filter((a) => a.group === term.group).map((a) => a.id);
      if (base.length === 0) throw unknown(term, `no asset is in group "${term.group}"`, suggest(term.group, assets.map((a) => a.group), "groups"));
    } else {
      base = assets.filter((a) => Object.hasOwn(a.tags, term.tag) && (term.value === undefined || a.tags[term.tag] === term.value)).map((a) => a.id);
      if (base.length === 0) {
        const tags = assets.flatMap((a) => Object.entries(a.tags).map(([k, v]) => (term.value === undefined ? k : `${k}=${v}`)));
        const wanted = term.value === undefined ? term.tag : `${term.tag}=${term.value}`;
        throw unknown(term, `no asset has tag ${wanted}`, suggest(wanted, tags, "tags"));
      }
    }
    for (const id of walk(base, parents, term.upstream)) selected.add(id);
    for (const id of walk(base, children, term.downstream)) selected.add(id);
  }
  if (selected.size === 0) throw new BatonError("UNKNOWN_SELECTION", `selection "${expression}" matches no assets`, { hint: "define assets first, or check that the definitions were loaded" });
  return assets.filter((a) => selected.has(a.id)).map((a) => a.id);
}

// ---- Selections written with asset objects and helpers, resolved to the string syntax above ----

/** An asset as selections see it: any `asset()` result (only its id is read). */
export interface AssetRef {
  readonly kind: "asset";
  readonly id: string;
}

/** A selection term built by `upstream`, `downstream`, `group`, `tag` or `key`; `text` is its string syntax. */
export interface SelectionHelper {
  readonly kind: "selection";
  readonly text: string;
  /** The term without its "+" parts, and how far it reaches; `upstream`/`downstream` widen these. */
  readonly body: string;
  readonly upstream: Depth;
  readonly downstream: Depth;
}

/** One part of a selection: the string syntax, an asset object, or a helper. */
export type SelectionPart = string | AssetRef | SelectionHelper;

/**
 * What `selection` accepts (schedules, sensors, `materialize`): a string such as `"group:daily +customer_metrics"`,
 * an asset, a helper (`upstream(x)`, `downstream(x)`, `group("sales")`, `tag("k", "v")`, `key("a/b")`), or an array
 * of these (their union).
 */
export type Selection = SelectionPart | readonly SelectionPart[];

function helperError(problem: string): BatonError {
  return new BatonError("UNKNOWN_SELECTION", problem, { hint: SYNTAX });
}

function termText(body: string, up: Depth, down: Depth): string {
  const left = up === 0 ? "" : up === "all" ? "+" : `${up}+`;
  const right = down === 0 ? "" : down === "all" ? "+" : `+${down}`;
  return `${left}${body}${right}`;
}

function helper(body: string, up: Depth, down: Depth): SelectionHelper {
  return Object.freeze({ kind: "selection", text: termText(body, up, down), body, upstream: up, downstream: down });
}

function isAssetRef(x: unknown): x is AssetRef {
  return typeof x === "object" && x !== null && (x as { kind?: unknown }).kind === "asset" && typeof (x as { id?: unknown }).id === "string";
}

function isHelper(x: unknown): x is SelectionHelper {
  return typeof x === "object" && x !== null && (x as { kind?: unknown }).kind === "selection" && typeof (x as { text?: unknown }).text === "string";
}

function describe(x: unknown): string {
  if (typeof x === "string") return JSON.stringify(x);
  if (Array.isArray(x)) return "an array";
  if (typeof x === "object" && x !== null) return `an object (kind ${JSON.stringify((x as { kind?: unknown }).kind)})`;
  return String(x);
}

/** The single key a term names; a string must be one plain key (no spaces, "+", "*"). */
function keyBody(x: unknown, fn: string): string {
  if (isAssetRef(x)) return x.id;
  if (typeof x === "string" || (Array.isArray(x) && x.every((p) => typeof p === "string"))) {
    const text = typeof x === "string" ? x : x.join("/");
    let term: SelectionTerm | undefined;
    try {
      const terms = parseSelection(text);
      term = terms.length === 1 ? terms[0] : undefined;
    } catch {
      term = undefined;
    }
    if (term?.kind !== "key" || term.upstream !== 0 || term.downstream !== 0) {
      throw helperError(`${fn}(${JSON.stringify(x)}): not an asset key (path parts of letters, digits, '_', '.' or '-', joined by "/"); pass an asset, a key, or group()/tag()/key()`);
    }
    return term.key;
  }
  throw helperError(`${fn}(…) takes an asset, an asset key or a selection helper, not ${describe(x)}`);
}

function checkDepth(d: Depth | undefined, fn: string): Depth {
  if (d === undefined || d === "all") return "all";
  if (typeof d !== "number" || !Number.isInteger(d) || d < 0) {
    throw helperError(`${fn}(…, ${JSON.stringify(d)}): depth must be a whole number of levels ≥ 0, or "all"`);
  }
  return d;
}

/** The target of `upstream`/`downstream`: an asset, a key, or another helper (to widen it). */
export type SelectionTarget = AssetRef | string | readonly string[] | SelectionHelper;

function around(x: SelectionTarget, fn: "upstream" | "downstream", d: Depth | undefined): SelectionHelper {
  const depthOf = checkDepth(d, fn);
  if (isHelper(x)) {
    const current = fn === "upstream" ? x.upstream : x.downstream;
    if (current !== 0) throw helperError(`${fn}(${x.text}): the term already reaches ${fn}; pass the term without ${fn}()`);
    return fn === "upstream" ? helper(x.body, depthOf, x.downstream) : helper(x.body, x.upstream, depthOf);
  }
  const body = keyBody(x, fn);
  return fn === "upstream" ? helper(body, depthOf, 0) : helper(body, 0, depthOf);
}

/**
 * `x` and what it depends on: all levels (`"+x"`), or `depth` levels (`upstream(x, 1)` is `"1+x"`).
 * `x` is an asset, a key, or a helper (`upstream(group("sales"))` is `"+group:sales"`).
 */
export function upstream(x: SelectionTarget, depth?: Depth): SelectionHelper {
  return around(x, "upstream", depth);
}

/** `x` and what depends on it: all levels (`"x+"`), or `depth` levels (`downstream(x, 2)` is `"x+2"`). */
export function downstream(x: SelectionTarget, depth?: Depth): SelectionHelper {
  return around(x, "downstream", depth);
}

/** Every asset of group `name` (`"group:name"`). */
export function group(name: string): SelectionHelper {
  if (typeof name !== "string" || name === "" || /[\s,+]/.test(name)) {
    throw helperError(`group(${JSON.stringify(name)}): a group name is a non-empty string without spaces, commas or "+"`);
  }
  return helper(`group:${name}`, 0, 0);
}

/** Every asset with tag `name` (`"tag:name"`), or with that tag set to `value` (`"tag:name=value"`). */
export function tag(name: string, value?: string): SelectionHelper {
  if (typeof name !== "string" || name === "" || /[\s,+=]/.test(name)) {
    throw helperError(`tag(${JSON.stringify(name)}): a tag name is a non-empty string without spaces, commas, "+" or "="`);
  }
  if (value !== undefined && (typeof value !== "string" || /[\s,+]/.test(value))) {
    throw helperError(`tag(${JSON.stringify(name)}, ${JSON.stringify(value)}): the selection syntax cannot hold a tag value with spaces, commas or "+"`);
  }
  return helper(value === undefined ? `tag:${name}` : `tag:${name}=${value}`, 0, 0);
}

/** The asset with key `k` ("sales/orders" or ["sales", "orders"]); never a prefix or a pattern. */
export function key(k: string | readonly string[]): SelectionHelper {
  return helper(keyBody(k, "key"), 0, 0);
}

function partText(part: unknown): string {
  // Strings pass as written: definitions() reports their syntax with the schedule's or sensor's name.
  if (typeof part === "string") return part;
  if (isAssetRef(part)) return part.id;
  if (isHelper(part)) return part.text;
  throw helperError(`a selection takes strings, assets and selection helpers, not ${describe(part)}`);
}

/**
 * A selection in the string syntax (what the manifest, `definitions().select` and the runtimes read):
 * an array's parts joined by spaces, an asset as its key, a helper as its term. Throws UNKNOWN_SELECTION on
 * a part that is none of these; the string syntax, and which assets it names, are checked where it is resolved
 * against the definitions (`definitions()`, `materialize`).
 */
export function resolveSelection(selection: Selection): string {
  const parts: readonly unknown[] = Array.isArray(selection) ? selection : [selection];
  return parts.map(partText).join(" ");
}
