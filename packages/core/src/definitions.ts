import { POOL_NAME, type AssetCheck, type AssetDefinition, type CheckSeverity, type ResolvedInput } from "./asset.js";
import type { AssetCheckDefinition } from "./asset-check.js";
import { isAssetGroupDefinition, type AssetGroupDefinition } from "./asset-group.js";
import { BatonError, BatonValidationError } from "./errors.js";
import { topoSort, upstreamIds } from "./graph.js";
import type { ResourceDefinition } from "./resource.js";
import type { ScheduleDefinition } from "./schedule.js";
import type { SensorDefinition } from "./sensor.js";
import { assetSelector, resolveSelection, type SelectableAsset, type Selection } from "./selection.js";
import { cronProblem, timezoneProblem } from "./cron.js";
import { defaultMapping, mappingProblem } from "./partitions/index.js";
import { partitionsProblem } from "./partitions/define.js";
import { declaredAt as where } from "./source.js";
import type { PartitionsDefinition } from "./partitions/types.js";
import { tableIoProblem } from "./io/table-io.js";

/** The validated container every runtime consumes. Assets are in dependency order. */
export interface Definitions {
  readonly kind: "definitions";
  readonly assets: readonly AssetDefinition[];
  readonly resources: Readonly<Record<string, ResourceDefinition<any, any>>>;
  readonly schedules: readonly ScheduleDefinition[];
  readonly sensors: readonly SensorDefinition[];
  /** Standalone checks (`assetCheck()`), in the order of their targets. */
  readonly checks: readonly AssetCheckDefinition[];
  /** The standalone checks of one asset (its inline checks are `asset(id).checks`). */
  checksOf(id: string): readonly AssetCheckDefinition[];
  /** Concurrency pools by name (`asset({ pool })` names one). */
  readonly pools: Readonly<Record<string, PoolDefinition>>;
  asset(id: string): AssetDefinition;
  /** Ids of the assets a selection picks, in dependency order: a string expression, an asset, helpers (`downstream(x)`), or an array of them. */
  select(selection: Selection): string[];
  /** Direct upstream ids (inputs and deps). */
  upstream(id: string): readonly string[];
  downstream(id: string): readonly string[];
  /** These assets in dependency order (the order of `assets`): O(k log k) for k ids, whatever the size of the graph. */
  inOrder(ids: Iterable<string>): AssetDefinition[];
}

/** One check of an asset: inline (`asset({ checks })`, in the asset's step) or standalone (`assetCheck()`, a step of its own). */
export type CheckOfAsset = {
  readonly name: string;
  readonly severity: CheckSeverity;
  readonly description: string | undefined;
} & (
  | { readonly standalone: false; readonly inputs: readonly []; readonly inline: AssetCheck<any> }
  | { readonly standalone: true; readonly inputs: readonly ResolvedInput[]; readonly definition: AssetCheckDefinition }
);

/**
 * Every check of one asset, inline then standalone: what the manifest, the CLI and the steps list and select.
 * A free function, not a method: the CLI also reads definitions built by the user's own copy of core.
 */
export function allChecksOf(defs: Pick<Definitions, "asset" | "checksOf">, id: string): CheckOfAsset[] {
  return [
    ...defs.asset(id).checks.map((c): CheckOfAsset => ({ name: c.name, severity: c.severity ?? "error", description: c.description, standalone: false, inputs: [], inline: c })),
    ...defs.checksOf(id).map((c): CheckOfAsset => ({ name: c.name, severity: c.severity, description: c.description, standalone: true, inputs: c.inputs, definition: c })),
  ];
}

/** At most `limit` steps holding assets of the pool run at once (an orchestrator: across runs). */
export interface PoolDefinition {
  readonly limit: number;
  readonly description?: string;
}

export interface DefinitionsInput {
  /** The assets; those their inputs and deps name as objects are collected too (listing them again is fine). */
  assets: readonly (AssetDefinition<any, any> | AssetGroupDefinition<any>)[];
  /**
   * Resources by name, merged with those the assets declare as objects (`asset({ resources: { warehouse } })`);
   * needed here only for names in `resources: ["…"]` and sensors.
   */
  resources?: Readonly<Record<string, ResourceDefinition<any, any>>>;
  schedules?: readonly ScheduleDefinition[];
  sensors?: readonly SensorDefinition[];
  /** Standalone checks (`assetCheck()`); their target and input assets are collected like inputs. */
  checks?: readonly AssetCheckDefinition<any, any>[];
  /** Concurrency pools, e.g. `{ warehouse: { limit: 2, description: "the DWH allows 2 sessions" } }`. */
  pools?: Readonly<Record<string, PoolDefinition>>;
}

export function isDefinitions(x: unknown): x is Definitions {
  return typeof x === "object" && x !== null && (x as { kind?: unknown }).kind === "definitions";
}

/** Validate the whole graph; every problem is collected and reported together. */
export function definitions(input: DefinitionsInput): Definitions {
  const errors: BatonError[] = [];
  const byId = new Map<string, AssetDefinition>();
  const checks = [...new Set(input.checks ?? [])] as AssetCheckDefinition[];
  // An asset group stands for its assets.
  const assetsListed = input.assets.flatMap((a): readonly AssetDefinition[] => (isAssetGroupDefinition(a) ? a.assets : [a as AssetDefinition]));
  const listed = [...assetsListed, ...checks.flatMap((c) => [c.asset as AssetDefinition, ...c.inputAssets])];
  for (const a of withUpstream(listed)) {
    const prior = byId.get(a.id);
    if (prior === a) continue; // the same object listed twice, or listed and reached through an input
    if (prior) {
      errors.push(
        new BatonError("DUPLICATE_KEY", `the key is declared twice${prior.file ? ` (also at ${where(prior)})` : ""}`, {
          asset: a.id,
          file: where(a),
          hint: "give each asset its own key, or a key prefix such as [\"sales\", \"orders\"]",
        }),
      );
    } else byId.set(a.id, a);
  }
  const users: ResourceUser[] = [
    ...[...byId.values()].map((a) => ({ label: `asset "${a.id}"`, asset: a.id, file: where(a), resourceDefinitions: a.resourceDefinitions })),
    ...(input.sensors ?? []).map((s) => ({ label: `sensor "${s.name}"`, asset: undefined, file: where(s), resourceDefinitions: s.resourceDefinitions })),
  ];
  const resources = collectResources(users, input.resources ?? {}, errors);
  const pools = input.pools ?? {};
  for (const [name, p] of Object.entries(pools)) {
    if (!POOL_NAME.test(name)) {
      errors.push(new BatonError("INVALID_DEFINITION", `pool name ${JSON.stringify(name)} is not a pool name`, { hint: "use letters, digits, '_' and '-', starting with a letter or '_' (e.g. warehouse)" }));
    }
    const limit = (p as { limit?: unknown } | undefined)?.limit;
    if (!(typeof limit === "number" && Number.isInteger(limit) && limit >= 1)) {
      errors.push(new BatonError("INVALID_DEFINITION", `pool "${name}" has limit ${JSON.stringify(limit) ?? String(limit)}`, { hint: `use a whole number >= 1: pools: { ${name}: { limit: 2 } }` }));
    }
  }

  checkTables([...byId.values()], errors);
  // A group's name is its step's name: two groups of one name would share steps.
  const batches = new Map<string, NonNullable<AssetDefinition["batch"]>>();
  for (const a of byId.values()) {
    if (!a.batch) continue;
    const prior = batches.get(a.batch.name);
    if (prior && prior !== a.batch) {
      errors.push(new BatonError("DUPLICATE_KEY", `two asset groups are named "${a.batch.name}"`, { asset: a.id, file: where(a), hint: "give each assetGroup() its own name" }));
    } else batches.set(a.batch.name, a.batch);
  }
  for (const a of byId.values()) {
    if (a.pool !== undefined && !Object.hasOwn(pools, a.pool)) {
      const known = Object.keys(pools);
      errors.push(
        new BatonError("INVALID_DEFINITION", `pool "${a.pool}" is not declared in definitions({ pools })`, {
          asset: a.id,
          file: where(a),
          hint: `add pools: { ${/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(a.pool) ? a.pool : JSON.stringify(a.pool)}: { limit: N } } to definitions()${known.length ? ` (declared: ${known.join(", ")})` : ""}`,
        }),
      );
    }
    if (a.partitions) {
      // Also catches definitions written by hand (not through staticPartitions() and the like).
      const p = partitionsProblem(a.partitions);
      if (p) errors.push(new BatonError(p.code, `partitions: ${p.problem}`, { asset: a.id, file: where(a), hint: p.hint }));
    }
    inputProblems({ asset: a }, byId, errors);
    for (const d of a.deps) if (!byId.has(d.join("/"))) errors.push(unknownAsset({ asset: a.id, file: where(a) }, "dep", d.join("/"), byId));
    for (const r of a.resources) {
      if (!resources[r]) errors.push(missingResource(`asset "${a.id}"`, r, resources, where(a), a.id));
    }
  }

  const checksByAsset = checkStandalone(checks, byId, errors);

  const depsOf = new Map([...byId.values()].map((a) => [a.id, upstreamIds(a)] as const));
  const sorted = topoSort([...byId.keys()], depsOf);
  if ("cycle" in sorted) {
    const first = byId.get(sorted.cycle[0]!);
    errors.push(
      new BatonError("CYCLE", `dependency cycle: ${sorted.cycle.join(" -> ")}`, {
        asset: first?.id,
        file: first && where(first),
        hint: "an asset cannot depend on itself, directly or through others: remove one of these inputs",
      }),
    );
  }
  const order = "order" in sorted ? sorted.order : [...byId.keys()];
  const assets = order.map((id) => byId.get(id)!);
  // The graph selections walk: built on the first selection (a schedule's, a sensor's, select()'s), then kept.
  let selector: ((expression: string) => string[]) | undefined;
  const select = (expression: string): string[] => {
    selector ??= assetSelector(assets.map((a): SelectableAsset => ({ id: a.id, group: a.group, tags: a.tags, deps: depsOf.get(a.id) ?? [] })));
    return selector(expression);
  };
  const position = new Map(assets.map((a, i) => [a.id, i]));
  const downstreamOf = new Map<string, string[]>(assets.map((a) => [a.id, []]));
  for (const a of assets) for (const up of depsOf.get(a.id) ?? []) downstreamOf.get(up)?.push(a.id);

  const names = new Set<string>();
  for (const s of input.schedules ?? []) {
    checkName("schedule", s.name, where(s), names, errors);
    const at = { file: where(s) };
    const cron = cronProblem(s.cron);
    if (cron) errors.push(new BatonError("INVALID_CRON", `schedule "${s.name}": ${cron}`, { ...at, hint: "use a 5-field cron such as \"0 6 * * *\" or @daily" }));
    const tz = timezoneProblem(s.timezone);
    if (tz) errors.push(new BatonError("INVALID_TIMEZONE", `schedule "${s.name}": ${tz}`, { ...at, hint: "use an IANA timezone such as \"UTC\" or \"Europe/Paris\"" }));
    const targets = trySelect(select, s.selection, `schedule "${s.name}"`, where(s), errors);
    if (targets) checkSchedulePartitions(s, targets.map((id) => byId.get(id)!), errors);
  }
  for (const s of input.sensors ?? []) {
    checkName("sensor", s.name, where(s), names, errors);
    trySelect(select, s.selection, `sensor "${s.name}"`, where(s), errors);
    for (const r of s.resources) if (!resources[r]) errors.push(missingResource(`sensor "${s.name}"`, r, resources, where(s)));
    if (!(s.minimumIntervalSeconds > 0)) {
      errors.push(new BatonError("INVALID_DEFINITION", `sensor "${s.name}": minimumIntervalSeconds must be > 0`, { file: where(s), hint: "use e.g. 30" }));
    }
  }
  if (errors.length > 0) throw new BatonValidationError(errors);

  const assetOf = (id: string): AssetDefinition => {
    const a = byId.get(id);
    if (!a) throw unknownAsset({}, "selection", id, byId, "UNKNOWN_SELECTION");
    return a;
  };
  return {
    kind: "definitions",
    assets,
    resources,
    schedules: [...(input.schedules ?? [])],
    sensors: [...(input.sensors ?? [])],
    checks: assets.flatMap((a) => checksByAsset.get(a.id) ?? []),
    checksOf: (id) => checksByAsset.get(id) ?? [],
    pools: Object.fromEntries(Object.entries(pools).map(([name, p]) => [name, { limit: p.limit, ...(p.description !== undefined ? { description: p.description } : {}) }])),
    asset: assetOf,
    select: (selection) => select(resolveSelection(selection)),
    upstream: (id) => depsOf.get(id) ?? [],
    downstream: (id) => downstreamOf.get(id) ?? [],
    inOrder: (ids) => [...new Set(ids)].map(assetOf).sort((x, y) => position.get(x.id)! - position.get(y.id)!),
  };
}

/** Standalone checks by target id. A name used twice on one asset (inline or standalone) is DUPLICATE_KEY. */
function checkStandalone(checks: readonly AssetCheckDefinition[], byId: ReadonlyMap<string, AssetDefinition>, errors: BatonError[]): Map<string, AssetCheckDefinition[]> {
  const out = new Map<string, AssetCheckDefinition[]>();
  for (const c of checks) {
    const target = byId.get(c.assetId);
    if (!target) continue; // collected above: only a duplicate key (reported) leaves it out
    const at = { asset: target.id, file: where(c) };
    const siblings = out.get(target.id) ?? [];
    if (target.checks.some((i) => i.name === c.name) || siblings.some((s) => s.name === c.name)) {
      errors.push(new BatonError("DUPLICATE_KEY", `asset "${target.id}" has two checks named "${c.name}"`, { ...at, hint: "give each check of an asset its own name (inline and standalone checks share one namespace)" }));
    }
    inputProblems({ asset: target, check: c }, byId, errors);
    siblings.push(c);
    out.set(target.id, siblings);
  }
  return out;
}

/** Who reads inputs: an asset, or a standalone check of `asset` (its mappings relative to the target's partitions). */
interface InputReader {
  readonly asset: AssetDefinition;
  readonly check?: AssetCheckDefinition;
}

/**
 * One rule for an asset's inputs and a standalone check's: each names an asset of these definitions that stores
 * data (not output: "none"), with partitions that map to the reader's; a check's input is not its own target.
 * One code per reader, as documented: UNKNOWN_INPUT for an asset's input, INVALID_DEFINITION for a check's
 * (CHECKS-CONTRACT.md §1); partitions that cannot map are UNMAPPABLE_PARTITIONS for both.
 */
function inputProblems({ asset: a, check: c }: InputReader, byId: ReadonlyMap<string, AssetDefinition>, errors: BatonError[]): void {
  const code = c ? "INVALID_DEFINITION" : "UNKNOWN_INPUT";
  const at = { asset: a.id, file: where(c ?? a) };
  for (const inp of c ? c.inputs : a.inputs) {
    const id = inp.key.join("/");
    const what = `${c ? `check "${c.name}": ` : ""}input "${inp.name}"`;
    const up = byId.get(id);
    if (c && id === a.id) {
      errors.push(new BatonError(code, `${what} is its own target "${id}"`, { ...at, hint: "the target's output is the check's first argument: (output, inputs, ctx); remove it from inputs" }));
    } else if (!up) {
      errors.push(unknownAsset(at, what, id, byId, code));
    } else if (isSideEffect(up)) {
      const hint = c ? "a side-effect asset stores no data to check against: remove the input" : `list "${up.id}" in deps instead of inputs if only the order matters`;
      errors.push(new BatonError(code, `${what} reads "${up.id}", which is declared output: "none"`, { ...at, hint }));
    } else if (up.partitions) {
      const problem = mappingProblem(a.partitions, up.partitions, inp.partitionMapping ?? defaultMapping(a.partitions, up.partitions));
      if (problem) {
        const fix = c ? `give the input a partitionMapping relative to "${a.id}"'s partitions` : `align the partitions of "${a.id}" and "${up.id}", or give the input a partitionMapping`;
        errors.push(new BatonError("UNMAPPABLE_PARTITIONS", `${what} from "${up.id}": ${problem}`, { ...at, hint: `${fix} (e.g. { type: "allPartitions" })` }));
      }
    }
  }
}

/**
 * Table outputs (TABLE-OUTPUT-CONTRACT.md §1): each valid as `asset()` requires (definitions written by hand
 * too), and no two assets writing one table of one catalog (each would replace the other's rows).
 */
function checkTables(assets: readonly AssetDefinition[], errors: BatonError[]): void {
  const writers = new Map<string, AssetDefinition>();
  for (const a of assets) {
    const t = a.table;
    if (a.format !== "iceberg" && t === undefined) continue;
    const io = { format: "iceberg", catalog: t?.catalog, table: t?.name, partitionColumn: t?.partitionColumn, mode: t?.mode };
    const p = tableIoProblem(io, { resources: a.resources, partitioned: a.partitions !== undefined, output: a.output });
    if (p || t === undefined) {
      errors.push(new BatonError("INVALID_DEFINITION", p?.problem ?? 'format "iceberg" without a table', { asset: a.id, file: where(a), hint: p?.hint ?? "declare it with asset({ io: { format: \"iceberg\", catalog, table } })" }));
      continue;
    }
    const at = `${t.catalog}\u0000${t.name}`;
    const prior = writers.get(at);
    if (prior === undefined) {
      writers.set(at, a);
      continue;
    }
    errors.push(
      new BatonError("DUPLICATE_KEY", `table ${t.name} of catalog "${t.catalog}" is also the output of asset "${prior.id}"${prior.file ? ` (${where(prior)})` : ""}`, {
        asset: a.id,
        file: where(a),
        hint: "give each asset its own table: two writers of one table would replace each other's rows",
      }),
    );
  }
}

/** The listed assets, then the asset objects reachable through their inputs and deps (depth first). */
function withUpstream(listed: readonly AssetDefinition[]): AssetDefinition[] {
  const out: AssetDefinition[] = [];
  const seen = new Set<AssetDefinition>();
  const stack = [...listed].reverse();
  // Listed ones keep their order ahead of the collected ones, so messages name what the user wrote first.
  for (const a of listed) seen.add(a);
  out.push(...listed);
  while (stack.length > 0) {
    const a = stack.pop()!;
    for (const up of a.upstreamAssets ?? []) {
      if (seen.has(up)) continue;
      seen.add(up);
      out.push(up);
      stack.push(up);
    }
  }
  return out;
}

/** An asset or a sensor, with the resource objects it declares (`resources: { warehouse }`). */
interface ResourceUser {
  readonly label: string;
  readonly asset: string | undefined;
  readonly file: string | undefined;
  readonly resourceDefinitions: Readonly<Record<string, ResourceDefinition<any, any>>> | undefined;
}

/**
 * The resources of `definitions({ resources })` and those the assets and sensors declare as objects (the
 * record key is the name). One name bound to two different objects is an error naming both users.
 */
function collectResources(
  users: readonly ResourceUser[],
  given: Readonly<Record<string, ResourceDefinition<any, any>>>,
  errors: BatonError[],
): Record<string, ResourceDefinition<any, any>> {
  const out: Record<string, ResourceDefinition<any, any>> = { ...given };
  const boundBy = new Map<string, ResourceUser>();
  for (const u of users) {
    for (const [name, r] of Object.entries(u.resourceDefinitions ?? {})) {
      const prior = out[name];
      if (prior === undefined) {
        out[name] = r;
        boundBy.set(name, u);
      } else if (prior !== r) {
        const first = boundBy.get(name);
        const other = first ? `${first.label}${first.file ? ` (${first.file})` : ""}` : "definitions({ resources })";
        errors.push(
          new BatonError("DUPLICATE_KEY", `resource "${name}" is bound to two different resource objects: by ${u.label} and by ${other}`, {
            asset: u.asset,
            file: u.file,
            hint: `share one resource object (export it from one module), or give the other one its own name: resources: { ${name}2: … }`,
          }),
        );
      }
    }
  }
  return out;
}

export function isSideEffect(a: AssetDefinition): boolean {
  return a.output === "none";
}

/** A schedule's default partition is the last complete window: its targets must agree on one. */
function checkSchedulePartitions(s: ScheduleDefinition, targets: readonly AssetDefinition[], errors: BatonError[]): void {
  const defs = uniquePartitions(targets);
  if (defs.length === 0) {
    if (s.partition) errors.push(new BatonError("INVALID_DEFINITION", `schedule "${s.name}" sets a partition but none of its assets is partitioned`, { file: where(s), hint: "remove partition from the schedule" }));
    return;
  }
  if (defs.length > 1) {
    errors.push(
      new BatonError("UNMAPPABLE_PARTITIONS", `schedule "${s.name}" targets assets with different partitions`, {
        file: where(s),
        hint: "split the selection into one schedule per partitions definition",
      }),
    );
    return;
  }
  const def = defs[0]!;
  if (def.type === "static" && s.partition?.type !== "static") {
    errors.push(new BatonError("INVALID_DEFINITION", `schedule "${s.name}" targets static partitions but names no key`, { file: where(s), hint: "add partition: { type: \"static\", key: \"...\" }" }));
  }
  if (s.partition?.type === "static" && !(def.type === "static" ? def.keys.includes(s.partition.key) : true)) {
    errors.push(new BatonError("UNKNOWN_PARTITION", `schedule "${s.name}" runs unknown partition "${s.partition.key}"`, { file: where(s), hint: `use one of ${def.type === "static" ? def.keys.join(", ") : ""}` }));
  }
}

export function uniquePartitions(targets: readonly AssetDefinition[]): PartitionsDefinition[] {
  const seen = new Map<string, PartitionsDefinition>();
  for (const t of targets) if (t.partitions) seen.set(JSON.stringify(t.partitions), t.partitions);
  return [...seen.values()];
}

function trySelect(select: (expression: string) => string[], expr: string, owner: string, file: string | undefined, errors: BatonError[]): string[] | undefined {
  try {
    return select(expr);
  } catch (e) {
    const inner = e as BatonError;
    errors.push(new BatonError("UNKNOWN_SELECTION", `${owner}: ${inner.problem ?? inner.message}`, { file, hint: inner.hint ?? "fix the selection expression" }));
    return undefined;
  }
}

function checkName(kind: string, name: string, file: string | undefined, names: Set<string>, errors: BatonError[]): void {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
    errors.push(new BatonError("INVALID_DEFINITION", `${kind} name "${name}" is not an identifier`, { file, hint: "use letters, digits and '_' (it becomes a Python name in generated code)" }));
  }
  if (names.has(name)) errors.push(new BatonError("DUPLICATE_KEY", `${kind} name "${name}" is used twice`, { file, hint: "schedules and sensors share one namespace: rename one" }));
  names.add(name);
}

function unknownAsset(
  at: { readonly asset?: string | undefined; readonly file?: string | undefined },
  what: string,
  id: string,
  byId: ReadonlyMap<string, AssetDefinition>,
  code: "UNKNOWN_INPUT" | "UNKNOWN_SELECTION" | "INVALID_DEFINITION" = "UNKNOWN_INPUT",
): BatonError {
  const known = [...byId.keys()];
  const last = (k: string) => k.split("/").pop() ?? k;
  // Same last path part (a missing or extra prefix), or a typo: a few edits away.
  const close = known.filter((k) => k.endsWith(last(id)) || id.endsWith(last(k)) || editDistance(k.toLowerCase(), id.toLowerCase()) <= Math.max(1, Math.floor(id.length / 3)));
  return new BatonError(code, `${what} names "${id}", which is not an asset in these definitions`, {
    ...at,
    hint: close.length ? `did you mean ${close.map((k) => `"${k}"`).join(" or ")}?` : `add the asset to definitions({ assets }) — known: ${known.slice(0, 10).join(", ")}${known.length > 10 ? ", …" : ""}`,
  });
}

function missingResource(owner: string, key: string, provided: Readonly<Record<string, unknown>>, file: string | undefined, asset?: string): BatonError {
  return new BatonError("MISSING_RESOURCE", `${owner} needs resource "${key}", which nobody provides`, {
    asset,
    file,
    hint: `${asset !== undefined ? `pass the resource object as asset({ resources: { ${key} } }), or ` : ""}add ${key}: resource({...}) to definitions({ resources })${Object.keys(provided).length ? ` (provided: ${Object.keys(provided).join(", ")})` : ""}`,
  });
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}
