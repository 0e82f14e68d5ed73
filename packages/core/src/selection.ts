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
