import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { keyToString, type AssetKeyLike } from "@baton/core/authoring";
import type { DbtManifest, DbtManifestNode } from "./artifacts.js";
import { DbtError, DbtNodeFailure } from "./errors.js";
import { readFreshManifest, readManifest } from "./manifest.js";
import { errorText, resolveDbtExecutable, runDbt, type DbtInvocation } from "./run-dbt.js";
import { mapRunResults, readRunResults, type DbtCheckOutcome, type DbtMaterializationOutcome } from "./run-results.js";
import { manifestToSpecs, type DbtAssetSpec, type DbtSpecOptions } from "./specs.js";

export type DbtVars = Readonly<Record<string, unknown>>;

export interface DbtProjectOptions extends DbtSpecOptions {
  /** The folder with dbt_project.yml. */
  readonly projectDir: string;
  /** The folder with profiles.yml; default projectDir. */
  readonly profilesDir?: string;
  /** The profile's target; default the profile's own default. */
  readonly target?: string;
  /** The dbt executable; default $BATON_DBT_EXECUTABLE, else `dbt` on PATH. */
  readonly dbtExecutable?: string;
  /** Vars for every parse and build (`--vars`); a build's own vars win. */
  readonly vars?: DbtVars;
  /**
   * Run `dbt parse` first (default true). false: read the manifest as it is, refusing it when it is
   * missing or older than the project's files (a deployment that ships target/manifest.json).
   */
  readonly parse?: boolean;
  /** Extra environment for dbt (profile env_vars). */
  readonly env?: Readonly<Record<string, string>>;
}

export interface DbtBuildOptions {
  /** Baton keys ("stg_orders", ["marts", "orders"]) or dbt unique_ids ("model.jaffle.orders") of models, seeds, snapshots. */
  readonly select: readonly AssetKeyLike[];
  readonly vars?: DbtVars;
  /** The exact data file of each mapped source's Baton asset (by asset id), passed in the source's pathVar. */
  readonly inputs?: Readonly<Record<string, string>>;
  /** Where each selected external model mapped in `outputs` writes its file (by asset id), passed in its var. */
  readonly outputs?: Readonly<Record<string, string>>;
  /** The tests to run, by name (a subset of the selected nodes' checks); default all of them. */
  readonly checks?: readonly string[];
  /** Keep dbt's target folder of this build here (default: a fresh folder, removed after the build). */
  readonly targetPath?: string;
  readonly signal?: AbortSignal;
}

export interface DbtBuildResult {
  /** No failed node, no failed error-severity test, dbt exited 0. */
  readonly ok: boolean;
  readonly materializations: readonly DbtMaterializationOutcome[];
  readonly checks: readonly DbtCheckOutcome[];
  /** Each failure, naming the asset (or model) and file; `assertOk()` throws the first. */
  readonly errors: readonly (DbtError | DbtNodeFailure)[];
  /** The dbt unique_ids the build selected (assets and their tests). */
  readonly selected: readonly string[];
  /** The arguments dbt ran with (after `dbt`). */
  readonly args: readonly string[];
  readonly exitCode: number | null;
  readonly dbtVersion: string | undefined;
  /** Wall time of the dbt process (start included), and dbt's own elapsed time for the nodes. */
  readonly wallMs: number;
  readonly elapsedSeconds: number | undefined;
  /** Throw the first error, when there is one. */
  assertOk(): void;
}

export interface DbtProject {
  readonly projectDir: string;
  readonly profilesDir: string;
  readonly target: string | undefined;
  readonly executable: string;
  readonly manifestPath: string;
  readonly manifest: DbtManifest;
  readonly specs: readonly DbtAssetSpec[];
  readonly unattachedTests: readonly string[];
  /** The spec of a Baton key/id or a dbt unique_id; UNKNOWN_NODE naming the manifest when absent. */
  spec(ref: AssetKeyLike): DbtAssetSpec;
  /** The vars that hand each mapped source its Baton asset's exact data file. */
  sourceVars(inputs: Readonly<Record<string, string>>): Record<string, string>;
  /** The vars that tell each mapped external model where to write its file. */
  outputVars(outputs: Readonly<Record<string, string>>): Record<string, string>;
  /** One `dbt build` for these nodes and the tests attached to them. */
  build(options: DbtBuildOptions): Promise<DbtBuildResult>;
}

/** Where dbt names a model and its file in an error: `model.pkg.name` and `(models/x.sql)`. */
function locate(text: string, manifest: DbtManifest | undefined): { asset?: string; file?: string } {
  const id = /\b(?:model|seed|snapshot|test)\.[A-Za-z0-9_]+\.[A-Za-z0-9_.]+/.exec(text)?.[0]?.replace(/\.$/, "");
  const file = /\(([^()\s]+\.(?:sql|ya?ml|csv|py))\)/.exec(text)?.[1] ?? (id !== undefined ? manifest?.nodes[id]?.original_file_path : undefined);
  return { asset: id, file };
}

function commonArgs(o: { projectDir: string; profilesDir: string; target: string | undefined }, targetPath: string, vars: DbtVars): string[] {
  const args = ["--project-dir", o.projectDir, "--profiles-dir", o.profilesDir, "--target-path", targetPath, "--log-path", join(targetPath, "logs")];
  if (o.target !== undefined) args.push("--target", o.target);
  if (Object.keys(vars).length > 0) args.push("--vars", JSON.stringify(vars));
  return args;
}

/** A parse or compile that failed before any node ran: a COMPILATION error naming the model and file. */
function compilationError(what: string, inv: DbtInvocation, manifest: DbtManifest | undefined): DbtError {
  const text = errorText(inv) || `dbt exited ${inv.exitCode ?? inv.signal}`;
  const where = locate(text, manifest);
  return new DbtError("COMPILATION", `dbt ${what} failed${where.asset ? ` in ${where.asset}` : ""}: ${text}`, {
    ...(where.file !== undefined ? { file: where.file } : {}),
    hint: "fix the model (dbt's message above), then build again",
  });
}

/** The selector of one node: its fqn, as dagster-dbt selects a subset. */
function fqnSelector(node: DbtManifestNode): string {
  return `fqn:${node.fqn.join(".")}`;
}

/**
 * A dbt project as Baton asset specs: parses it (or reads a shipped manifest), and builds batches of
 * its nodes with one dbt start each.
 */
export async function dbtProject(options: DbtProjectOptions): Promise<DbtProject> {
  const projectDir = resolve(options.projectDir);
  const profilesDir = resolve(options.profilesDir ?? projectDir);
  const executable = resolveDbtExecutable(options.dbtExecutable);
  const targetDir = join(projectDir, "target");
  const manifestPath = join(targetDir, "manifest.json");
  const where = { projectDir, profilesDir, target: options.target };
  const baseVars = options.vars ?? {};
  const env = options.env ?? {};
  if (!existsSync(join(projectDir, "dbt_project.yml"))) {
    throw new DbtError("DBT_FAILED", `${projectDir} has no dbt_project.yml`, { hint: "point projectDir at the dbt project's folder" });
  }

  let manifest: DbtManifest;
  if (options.parse ?? true) {
    const inv = await runDbt(executable, ["parse", ...commonArgs(where, targetDir, baseVars)], { cwd: projectDir, env });
    if (inv.exitCode !== 0) throw compilationError("parse", inv, undefined);
    manifest = readManifest(manifestPath);
  } else {
    manifest = readFreshManifest(manifestPath, projectDir);
  }
  const { specs, unattachedTests, sourceMappings } = manifestToSpecs(manifest, options);
  const byRef = new Map<string, DbtAssetSpec>();
  for (const s of specs) {
    byRef.set(s.id, s);
    byRef.set(s.uniqueId, s);
  }

  const spec = (ref: AssetKeyLike): DbtAssetSpec => {
    const text = typeof ref === "string" ? ref : keyToString(ref);
    const found = byRef.get(text);
    if (found === undefined) {
      throw new DbtError("UNKNOWN_NODE", `the dbt manifest ${manifestPath} has no model, seed or snapshot "${text}"`, {
        asset: text,
        file: manifestPath,
        hint: `select one of ${specs.map((s) => s.id).join(", ")} (or its dbt unique_id); after adding a model, parse again`,
      });
    }
    return found;
  };

  const sourceVars = (inputs: Readonly<Record<string, string>>): Record<string, string> => {
    const vars: Record<string, string> = {};
    for (const [assetId, file] of Object.entries(inputs)) {
      const mapping = [...sourceMappings.values()].find((m) => keyToString(m.key) === assetId);
      if (mapping === undefined) {
        throw new DbtError("UNKNOWN_NODE", `inputs names "${assetId}", which no mapped dbt source reads`, {
          asset: assetId,
          hint: `map the dbt source in dbtProject({ sources: { "source.table": { key: "${assetId}", pathVar: "…" } } })`,
        });
      }
      if (mapping.pathVar === undefined) {
        throw new DbtError("UNKNOWN_NODE", `the dbt source ${mapping.name} (asset "${assetId}") has no pathVar to pass its data file in`, {
          asset: assetId,
          hint: `give sources["${mapping.name}"] a pathVar, the var its external_location reads`,
        });
      }
      vars[mapping.pathVar] = file;
    }
    return vars;
  };

  const outputVars = (outputs: Readonly<Record<string, string>>): Record<string, string> => {
    const vars: Record<string, string> = {};
    for (const [assetId, file] of Object.entries(outputs)) {
      const s = spec(assetId);
      if (s.outputVar === undefined) {
        throw new DbtError("UNKNOWN_NODE", `outputs names "${assetId}" (${s.file}), which is not an external model mapped in dbtProject({ outputs })`, {
          asset: assetId,
          file: s.file,
          hint: `give dbtProject({ outputs: { "${assetId}": "<var>" } }) the var its location config reads`,
        });
      }
      vars[s.outputVar] = file;
    }
    return vars;
  };

  const build = async (b: DbtBuildOptions): Promise<DbtBuildResult> => {
    if (b.select.length === 0) throw new DbtError("UNKNOWN_NODE", "dbtBuild was given nothing to select", { hint: "select one or more models, seeds or snapshots" });
    const chosen = [...new Map(b.select.map((r) => spec(r)).map((s) => [s.uniqueId, s])).values()];
    const wanted = b.checks === undefined ? undefined : new Set(b.checks);
    const known = new Set(chosen.flatMap((s) => s.checks.map((c) => c.name)));
    const unknown = [...(wanted ?? [])].filter((n) => !known.has(n));
    if (unknown.length > 0) {
      throw new DbtError("UNKNOWN_NODE", `checks names ${unknown.join(", ")}, which no selected node has as a dbt test`, { hint: `select the tests' models too; their tests: ${[...known].sort().join(", ")}` });
    }
    const selected = chosen.flatMap((s) => [s.uniqueId, ...s.checks.filter((c) => wanted === undefined || wanted.has(c.name)).map((c) => c.uniqueId)]);
    const selectors = selected.map((id) => fqnSelector(manifest.nodes[id]!));
    const vars = { ...baseVars, ...(b.vars ?? {}), ...sourceVars(b.inputs ?? {}), ...outputVars(b.outputs ?? {}) };
    mkdirSync(targetDir, { recursive: true });
    const targetPath = b.targetPath ?? mkdtempSync(join(targetDir, "baton-build-"));
    // The tests are selected by name, so that no other test is pulled in by a parent
    // ("empty": only what --select names, dbt/graph/selector.py's IndirectSelection).
    const args = ["build", ...commonArgs(where, targetPath, vars), "--indirect-selection", "empty", "--select", ...selectors];
    try {
      const inv = await runDbt(executable, args, { cwd: projectDir, env, ...(b.signal ? { signal: b.signal } : {}) });
      const resultsPath = join(targetPath, "run_results.json");
      if (!existsSync(resultsPath)) throw compilationError("build", inv, manifest);
      const mapped = mapRunResults(readRunResults(resultsPath), specs);
      const errors = [...mapped.errors];
      const ran = new Set([...mapped.materializations.map((m) => m.uniqueId), ...mapped.checks.map((c) => c.uniqueId)]);
      const missing = selected.filter((id) => !ran.has(id));
      if (missing.length > 0) {
        errors.push(new DbtError("DBT_FAILED", `dbt build did not run ${missing.join(", ")}${inv.exitCode !== 0 ? `: ${errorText(inv)}` : ""}`, { hint: "parse the project again: the manifest may be stale" }));
      }
      // fqn: selects by prefix: a model in a folder named like a selected model (marts/orders/x.sql) ran too.
      const chosenIds = new Set(selected);
      const extra = [...ran, ...mapped.other.map((r) => r.unique_id)].filter((id) => !chosenIds.has(id));
      if (extra.length > 0) {
        const files = extra.map((id) => `${id} (${manifest.nodes[id]?.original_file_path ?? "?"})`).join(", ");
        const first = manifest.nodes[extra[0]!];
        errors.unshift(
          new DbtError("UNSELECTED_NODE", `dbt build also ran ${files}, which Baton did not select: dbt's fqn: selector matches a folder named like a selected node`, {
            ...(first !== undefined ? { file: first.original_file_path } : {}),
            hint: "rename the folder (or the model) so that no folder of models has a selected model's name",
          }),
        );
      }
      if (inv.exitCode !== 0 && errors.length === 0) errors.push(compilationError("build", inv, manifest));
      const ok = errors.length === 0;
      return {
        ok,
        materializations: mapped.materializations,
        checks: mapped.checks,
        errors,
        selected,
        args,
        exitCode: inv.exitCode,
        dbtVersion: inv.dbtVersion,
        wallMs: inv.wallMs,
        elapsedSeconds: mapped.elapsedSeconds,
        assertOk() {
          if (errors[0] !== undefined) throw errors[0];
        },
      };
    } finally {
      if (b.targetPath === undefined) rmSync(targetPath, { recursive: true, force: true });
    }
  };

  return { projectDir, profilesDir, target: options.target, executable, manifestPath, manifest, specs, unattachedTests, spec, sourceVars, outputVars, build };
}

/** One `dbt build` of a batch: `dbtBuild({ project, select, vars })`, the same as `project.build(…)`. */
export function dbtBuild(options: DbtBuildOptions & { readonly project: DbtProject }): Promise<DbtBuildResult> {
  return options.project.build(options);
}

