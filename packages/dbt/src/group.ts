import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { keyToString, type AssetSpec, type GroupContext, type GroupResult, type MetadataValue, type RetryPolicy } from "@baton/core/authoring";
import { DbtError } from "./errors.js";
import type { DbtProject, DbtBuildResult, DbtVars } from "./project.js";
import type { DbtCheckOutcome, DbtMaterializationOutcome } from "./run-results.js";
import type { DbtAssetSpec } from "./specs.js";

type GroupCheckResult = GroupResult["checks"][number];
type Mutable<T> = { -readonly [K in keyof T]: T[K] extends readonly (infer E)[] ? E[] : T[K] };

export interface DbtAssetsOptions<P = undefined> {
  /** The group's step name; default `dbt_<project name>`. */
  readonly name?: string;
  readonly description?: string;
  readonly partitions?: P;
  /** The vars of a partition's build (`{ ds: ctx.partitionKey }`), merged over the project's vars. */
  readonly partitionVars?: (ctx: GroupContext) => DbtVars;
  /** A DuckDB project: a pool of limit 1 (one writer per .duckdb file). */
  readonly pool?: string;
  readonly retry?: RetryPolicy;
  readonly timeoutSeconds?: number;
  /** Vars of every build of the group. */
  readonly vars?: DbtVars;
}

/** The group's step name: dbt_<project>, a valid step name whatever the project is called. */
export function defaultGroupName(project: DbtProject): string {
  const name = project.manifest.metadata.project_name ?? "project";
  return `dbt_${name.replace(/[^A-Za-z0-9_]/g, "_")}`;
}

/** The location dbt parsed is not where a build Baton runs writes: Baton's record names the file. */
function withoutParsedLocation(metadata: Readonly<Record<string, MetadataValue>>): Record<string, MetadataValue> {
  const { "dbt/external_location": _parsed, ...rest } = metadata;
  return rest;
}

/** A spec as core's asset group takes it: plain data. */
export function toGroupSpec(s: DbtAssetSpec): AssetSpec {
  return {
    key: s.key,
    deps: s.deps.map((d) => d.key),
    group: s.group,
    ...(s.description !== undefined ? { description: s.description } : {}),
    owners: s.owners,
    tags: s.tags,
    metadata: s.outputVar !== undefined ? withoutParsedLocation(s.metadata) : s.metadata,
    kinds: s.kinds,
    codeVersion: s.codeVersion,
    // Only an external model Baton can hand a file to has a data file to record.
    output: s.outputVar !== undefined ? "table" : "none",
    checks: s.checks.map((c) => ({
      name: c.name,
      severity: c.severity,
      ...(c.description !== undefined ? { description: c.description } : {}),
      deps: c.additionalDeps,
    })),
  };
}

function checkResult(c: DbtCheckOutcome): GroupCheckResult {
  const metadata: Record<string, MetadataValue> = { "dbt/unique_id": c.uniqueId, "dbt/status": c.status, "dbt/failures": c.failures, "dbt/file": c.file };
  if (c.message !== undefined) metadata["dbt/message"] = c.message;
  return { asset: c.assetKey, name: c.name, passed: c.passed, severity: c.severity, ...(c.message !== undefined ? { description: c.message } : {}), metadata };
}

function materializationMetadata(m: DbtMaterializationOutcome, spec: DbtAssetSpec): Record<string, MetadataValue> {
  const metadata = spec.outputVar !== undefined ? withoutParsedLocation(m.metadata) : { ...m.metadata };
  if (m.timing.startedAt !== undefined) metadata["dbt/started_at"] = m.timing.startedAt;
  if (m.timing.completedAt !== undefined) metadata["dbt/completed_at"] = m.timing.completedAt;
  return metadata;
}

/** The error of a selected node dbt skipped or never reported: the build's own first error says why. */
function notBuilt(spec: DbtAssetSpec, status: string, build: DbtBuildResult): Error {
  const cause = build.errors[0]?.message;
  return new DbtError("DBT_FAILED", `dbt ${status === "skipped" ? "skipped" : "did not build"} ${spec.uniqueId} (${spec.file})${cause !== undefined ? `: ${cause}` : ""}`, {
    asset: spec.id,
    file: spec.file,
    hint: "fix the failure named above (an upstream node or error-severity test of the same build); it is built again with it",
  });
}

/** Map one build's outcomes onto the group's result: a materialization, failure or check per selected item. */
export function toGroupResult(selected: readonly DbtAssetSpec[], build: DbtBuildResult): GroupResult {
  // A node the fqn: selector pulled in has run outside Baton's plan: the whole step fails, naming it.
  const unselected = build.errors.find((e) => e instanceof DbtError && e.reason === "UNSELECTED_NODE");
  if (unselected !== undefined) throw unselected;
  const outcomes = new Map(build.materializations.map((m) => [m.uniqueId, m]));
  const result: Pick<Mutable<GroupResult>, "materializations" | "failures"> = { materializations: [], failures: [] };
  for (const spec of selected) {
    const m = outcomes.get(spec.uniqueId);
    if (m?.status === "success") result.materializations.push({ key: spec.key, metadata: materializationMetadata(m, spec) });
    else if (m?.status === "error") result.failures.push({ key: spec.key, error: build.errors.find((e) => "asset" in e && e.asset === spec.id && !(e instanceof DbtError && e.reason === "TEST_FAILED")) ?? notBuilt(spec, "error", build) });
    else result.failures.push({ key: spec.key, error: notBuilt(spec, m?.status ?? "missing", build) });
  }
  // A test of a failed or skipped node did not run: its asset has no record to check.
  const checks = build.checks.filter((c) => c.status !== "skipped").map(checkResult);
  return { ...result, checks };
}

/**
 * The group's execute: ONE `dbt build` for the selected specs and their selected tests. Each mapped
 * source's Baton asset is read from its exact data file; each selected external model writes the file Baton
 * gives it.
 */
export function dbtExecute(project: DbtProject, options: Pick<DbtAssetsOptions, "vars" | "partitionVars"> = {}) {
  return async (ctx: GroupContext): Promise<GroupResult> => {
    const selected = ctx.selected.map((k) => project.spec(k));
    const ids = new Set(selected.map((s) => s.id));
    const inputs: Record<string, string> = {};
    for (const s of selected) {
      for (const d of s.deps) if (d.via === "source" && inputs[d.id] === undefined) inputs[d.id] = await ctx.inputFile(d.key);
    }
    const outputs: Record<string, string> = {};
    for (const s of selected) {
      if (s.outputVar === undefined) continue;
      const file = ctx.outputFile(s.key);
      mkdirSync(dirname(file), { recursive: true }); // dbt-duckdb's COPY needs the folder
      outputs[s.id] = file;
    }
    const checks = ctx.selectedChecks.filter((c) => ids.has(keyToString(c.asset))).map((c) => c.name);
    const vars = { ...(options.vars ?? {}), ...(options.partitionVars?.(ctx) ?? {}) };
    ctx.log.info(`dbt build of ${selected.length} node(s) and ${checks.length} test(s): ${selected.map((s) => s.id).join(", ")}`);
    const build = await project.build({ select: selected.map((s) => s.uniqueId), checks, vars, inputs, outputs });
    return toGroupResult(selected, build);
  };
}
