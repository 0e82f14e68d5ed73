import { toAssetKey, keyToString, type AssetKeyLike, type CheckSeverity, type MetadataValue } from "@baton/core/authoring";
import type { DbtManifest, DbtManifestNode } from "./artifacts.js";
import { DbtError } from "./errors.js";

/** dbt resource types that become Baton assets. */
export const ASSET_RESOURCE_TYPES = ["model", "seed", "snapshot"] as const;
export type DbtAssetResourceType = (typeof ASSET_RESOURCE_TYPES)[number];

/** A dbt source table mapped to a Baton asset, and the dbt var its exact data file is passed in. */
export interface DbtSourceMapping {
  readonly key: AssetKeyLike;
  /** The var the source's `external_location` reads the data file from (e.g. `read_parquet('{{ var("…") }}')`). */
  readonly pathVar?: string;
}

export interface DbtSpecOptions {
  /** The Baton key of a model, seed or snapshot; default `defaultKeyFor`. */
  readonly keyFor?: (node: DbtManifestNode) => AssetKeyLike;
  /** dbt sources (`"source_name.table_name"`) that are Baton assets: their dependents depend on those assets. */
  readonly sources?: Readonly<Record<string, AssetKeyLike | DbtSourceMapping>>;
  /** Group of nodes without a dbt `group`; default "default" (as Baton's assets). */
  readonly group?: string;
  /**
   * External models (by Baton key id or model name) → the var their `location` config reads, so a build
   * writes each one to the file Baton gives it (`location=var('baton_customer_summary', …)`).
   */
  readonly outputs?: Readonly<Record<string, string>>;
}

export interface DbtSpecDep {
  readonly key: readonly string[];
  readonly id: string;
  /** The dbt node (or source) behind the dependency. */
  readonly uniqueId: string;
  readonly via: "dbt" | "source";
}

export interface DbtCheckSpec {
  /** The test's name (unique in a project), as the check's name. */
  readonly name: string;
  readonly uniqueId: string;
  readonly description: string | undefined;
  /** dbt's `severity` config: `error` fails the step, `warn` is reported only. */
  readonly severity: CheckSeverity;
  /** The other assets the test reads (a relationships test's `to`), beyond the asset it is attached to. */
  readonly additionalDeps: readonly (readonly string[])[];
  /** `generic` (unique, not_null, relationships, …, from a properties file) or `singular` (a SQL file in tests/). */
  readonly testType: "generic" | "singular";
  /** The generic test's name (`relationships`), its column, the file that declares it. */
  readonly metadata: Readonly<Record<string, MetadataValue>>;
  readonly file: string;
}

/** A dbt model, seed or snapshot as a Baton asset spec: plain data, no compute. */
export interface DbtAssetSpec {
  readonly key: readonly string[];
  readonly id: string;
  readonly uniqueId: string;
  readonly resourceType: DbtAssetResourceType;
  readonly deps: readonly DbtSpecDep[];
  readonly group: string;
  readonly description: string | undefined;
  readonly owners: readonly string[];
  /** dbt tags as Baton tags with empty values (`tag:staging` selects them), as dagster-dbt maps them. */
  readonly tags: Readonly<Record<string, string>>;
  /** The node's checksum (sha256 of its file as dbt read it): any edit of the SQL or seed changes it. */
  readonly codeVersion: string;
  /** `dbt` and the adapter type (`duckdb`). */
  readonly kinds: readonly string[];
  readonly materialized: string;
  /** `"db"."schema"."name"`, or null for ephemeral models. */
  readonly relationName: string | null;
  /** Where an `external` model writes its file (dbt-duckdb), as parsed. */
  readonly externalLocation: string | undefined;
  /** What a Baton record of it holds: the external file, or only the relation. */
  readonly storage: "external" | "relation";
  /** For an external model mapped in `outputs`: the var its `location` reads. */
  readonly outputVar: string | undefined;
  readonly metadata: Readonly<Record<string, MetadataValue>>;
  readonly checks: readonly DbtCheckSpec[];
  /** dbt sources it reads that are not Baton assets (no dependency in Baton). */
  readonly unmappedSources: readonly string[];
  /** The file relative to the project, for messages. */
  readonly file: string;
}

/**
 * The default key: the node's name, after its configured schema when one is set, and `_v<version>`
 * for a versioned model. This is dagster-dbt's default, so a Dagster user sees the keys they know.
 */
export function defaultKeyFor(node: DbtManifestNode): string[] {
  const name = node.version !== undefined && node.version !== null ? `${node.name}_v${node.version}` : node.name;
  const schema = node.config.schema;
  return typeof schema === "string" && schema !== "" ? [schema, name] : [name];
}

function isAssetNode(n: DbtManifestNode): n is DbtManifestNode & { resource_type: DbtAssetResourceType } {
  return (ASSET_RESOURCE_TYPES as readonly string[]).includes(n.resource_type);
}

function ownersOf(meta: Readonly<Record<string, unknown>> | undefined): string[] {
  const owner = meta?.owner;
  if (typeof owner === "string" && owner !== "") return [owner];
  if (Array.isArray(owner)) return owner.filter((o): o is string => typeof o === "string" && o !== "");
  return [];
}

function severityOf(test: DbtManifestNode): CheckSeverity {
  return String(test.config.severity ?? "error").toLowerCase() === "warn" ? "warn" : "error";
}

function jsonValue(v: unknown): MetadataValue {
  if (v === null || typeof v === "string" || typeof v === "boolean") return v;
  if (typeof v === "number") return Number.isFinite(v) ? v : null;
  if (Array.isArray(v)) return v.map(jsonValue);
  if (typeof v === "object") return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, jsonValue(x)]));
  return String(v);
}

/** The asset a test checks: its attached node, or the one asset a singular test reads. */
function targetOf(test: DbtManifestNode, assetIds: ReadonlySet<string>): string | undefined {
  if (test.attached_node) return assetIds.has(test.attached_node) ? test.attached_node : undefined;
  const parents = (test.depends_on?.nodes ?? []).filter((p) => assetIds.has(p));
  return parents.length === 1 ? parents[0] : undefined;
}

export interface DbtSpecs {
  readonly specs: readonly DbtAssetSpec[];
  /** Tests attached to no single asset (a singular test over several models): not checks, listed. */
  readonly unattachedTests: readonly string[];
  /** Source unique_id → the mapping given for it. */
  readonly sourceMappings: ReadonlyMap<string, { readonly key: readonly string[]; readonly pathVar: string | undefined; readonly name: string }>;
}

/** Turn a parsed manifest into asset specs: models, seeds and snapshots, their tests as checks. */
export function manifestToSpecs(manifest: DbtManifest, options: DbtSpecOptions = {}): DbtSpecs {
  const keyFor = options.keyFor ?? defaultKeyFor;
  const adapter = manifest.metadata.adapter_type;
  const nodes = Object.values(manifest.nodes);
  const assetNodes = nodes.filter(isAssetNode).sort((a, b) => a.unique_id.localeCompare(b.unique_id));
  const keys = new Map<string, string[]>();
  const byId = new Map<string, string>();
  for (const n of assetNodes) {
    let key: string[];
    try {
      key = toAssetKey(keyFor(n));
    } catch (e) {
      throw new DbtError("MANIFEST_INVALID", `keyFor(${n.unique_id}) returned an invalid key: ${(e as Error).message}`, { asset: n.unique_id, file: n.original_file_path });
    }
    const id = keyToString(key);
    const other = byId.get(id);
    if (other !== undefined) {
      throw new DbtError("MANIFEST_INVALID", `${n.unique_id} and ${other} both map to the Baton key "${id}"`, {
        asset: id,
        file: n.original_file_path,
        hint: "give keyFor a mapping that keeps them apart (e.g. prefix the package or schema)",
      });
    }
    byId.set(id, n.unique_id);
    keys.set(n.unique_id, key);
  }

  const sourceMappings = new Map<string, { key: readonly string[]; pathVar: string | undefined; name: string }>();
  const sourceNames = new Map(Object.values(manifest.sources).map((s) => [`${s.source_name}.${s.name}`, s.unique_id]));
  for (const [name, mapping] of Object.entries(options.sources ?? {})) {
    const uniqueId = sourceNames.get(name);
    if (uniqueId === undefined) {
      throw new DbtError("UNKNOWN_NODE", `sources names "${name}", which the manifest has no source for`, {
        hint: `name a source as "source_name.table_name": ${[...sourceNames.keys()].sort().join(", ") || "(the project declares none)"}`,
      });
    }
    const m: DbtSourceMapping = typeof mapping === "string" || Array.isArray(mapping) ? { key: mapping as AssetKeyLike } : (mapping as DbtSourceMapping);
    sourceMappings.set(uniqueId, { key: toAssetKey(m.key), pathVar: m.pathVar, name });
  }

  const checks = new Map<string, DbtCheckSpec[]>();
  const unattachedTests: string[] = [];
  const assetIds = new Set(keys.keys());
  for (const test of nodes.filter((n) => n.resource_type === "test").sort((a, b) => a.unique_id.localeCompare(b.unique_id))) {
    const target = targetOf(test, assetIds);
    if (target === undefined) {
      unattachedTests.push(test.unique_id);
      continue;
    }
    const others = (test.depends_on?.nodes ?? []).filter((p) => p !== target && keys.has(p)).map((p) => keys.get(p)!);
    const metadata: Record<string, MetadataValue> = { "dbt/unique_id": test.unique_id, "dbt/file": test.original_file_path };
    if (test.test_metadata) metadata["dbt/test"] = test.test_metadata.namespace ? `${test.test_metadata.namespace}.${test.test_metadata.name}` : test.test_metadata.name;
    if (test.column_name) metadata["dbt/column"] = test.column_name;
    const list = checks.get(target) ?? [];
    list.push({
      name: test.name,
      uniqueId: test.unique_id,
      description: test.description ? test.description : undefined,
      severity: severityOf(test),
      additionalDeps: others,
      testType: test.test_metadata ? "generic" : "singular",
      metadata,
      file: test.original_file_path,
    });
    checks.set(target, list);
  }

  for (const name of Object.keys(options.outputs ?? {})) {
    const node = assetNodes.find((n) => keyToString(keys.get(n.unique_id)!) === name || n.name === name);
    if (node === undefined || externalLocationOf(node) === undefined) {
      throw new DbtError("UNKNOWN_NODE", `outputs names "${name}", which is ${node === undefined ? "no model of the manifest" : `${node.unique_id} (${node.original_file_path}), not an external model with a location`}`, {
        ...(node !== undefined ? { file: node.original_file_path } : {}),
        hint: "map only models with materialized='external' whose location reads the var",
      });
    }
  }

  const specs = assetNodes.map((n): DbtAssetSpec => {
    const key = keys.get(n.unique_id)!;
    const deps: DbtSpecDep[] = [];
    const unmappedSources: string[] = [];
    for (const parent of n.depends_on?.nodes ?? []) {
      const parentKey = keys.get(parent);
      if (parentKey !== undefined) deps.push({ key: parentKey, id: keyToString(parentKey), uniqueId: parent, via: "dbt" });
      else if (parent.startsWith("source.")) {
        const mapped = sourceMappings.get(parent);
        if (mapped) deps.push({ key: mapped.key, id: keyToString(mapped.key), uniqueId: parent, via: "source" });
        else unmappedSources.push(parent);
      }
    }
    const materialized = String(n.config.materialized ?? n.resource_type);
    const outputVar = options.outputs?.[keyToString(key)] ?? options.outputs?.[n.name];
    const externalLocation = externalLocationOf(n);
    const columns = Object.values(n.columns ?? {}).map((c) => ({ name: c.name, type: c.data_type ?? null, description: c.description ? c.description : null }));
    const metadata: Record<string, MetadataValue> = {
      "dbt/unique_id": n.unique_id,
      "dbt/resource_type": n.resource_type,
      "dbt/materialized": materialized,
      "dbt/file": n.original_file_path,
      "dbt/relation_name": n.relation_name ?? null,
      "dbt/database": n.database ?? null,
      "dbt/schema": n.schema ?? null,
      "dbt/alias": n.alias ?? n.name,
    };
    if (externalLocation !== undefined) metadata["dbt/external_location"] = externalLocation;
    if (columns.length > 0) metadata["dbt/columns"] = columns;
    const meta = n.config.meta ?? n.meta;
    if (meta && Object.keys(meta).length > 0) metadata["dbt/meta"] = jsonValue(meta);
    return {
      key,
      id: keyToString(key),
      uniqueId: n.unique_id,
      resourceType: n.resource_type,
      deps: deps.sort((a, b) => a.id.localeCompare(b.id)),
      group: n.group ?? n.config.group ?? options.group ?? "default",
      description: n.description ? n.description : undefined,
      owners: ownersOf(meta),
      tags: Object.fromEntries((n.tags ?? []).map((t) => [t, ""])),
      codeVersion: n.checksum?.checksum || n.unique_id,
      kinds: adapter ? ["dbt", adapter] : ["dbt"],
      materialized,
      relationName: n.relation_name ?? null,
      externalLocation,
      storage: externalLocation !== undefined ? "external" : "relation",
      outputVar: externalLocation !== undefined ? outputVar : undefined,
      metadata,
      checks: (checks.get(n.unique_id) ?? []).sort((a, b) => a.name.localeCompare(b.name)),
      unmappedSources,
      file: n.original_file_path,
    };
  });
  return { specs, unattachedTests, sourceMappings };
}

/** The file an external model writes (its configured location); undefined for any other node. One rule for the
 * `outputs` check and the spec, so a mapped model is never silently a relation-only asset. */
function externalLocationOf(n: DbtManifestNode): string | undefined {
  return n.config.materialized === "external" && typeof n.config.location === "string" ? n.config.location : undefined;
}
