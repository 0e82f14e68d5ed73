import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { manifestToJson, toManifest, type Definitions, type Manifest, corePythonModuleDir } from "@baton/core";
import { deploymentSpecs, type DeploymentSpec } from "./deployments.js";
import { flowsFile } from "./emit-flows.js";
import { prefectYaml } from "./emit-yaml.js";
import { checkResources, sortedResources, type PrefectResources } from "./resources.js";
import { assertManifestVersion, PREFECT_VERSION } from "./versions.js";

export interface BuildPrefectProjectOptions {
  readonly definitions: Definitions;
  /** The compiled module exporting the definitions (absolute path). */
  readonly module: string;
  readonly exportName?: string;
  /** The Prefect project folder to write. Files the build does not own are left alone. */
  readonly outDir: string;
  /** Where Prefect keeps each resource's config (Blocks, Secrets, Variables); see resources.ts. */
  readonly resources?: PrefectResources;
  /** BATON_STORAGE for steps when the worker's environment sets none (absolute or relative to outDir). */
  readonly storage?: string;
  /** Name of the materialize flow (the sensor flow is "<name>-sensors"); default "baton". */
  readonly flowName?: string;
  /** Process work pool named in prefect.yaml; default "baton". */
  readonly workPool?: string;
}

export interface PrefectProject {
  readonly outDir: string;
  readonly manifest: Manifest;
  readonly flowName: string;
  readonly deployments: readonly DeploymentSpec[];
  /** Files written, relative to outDir, sorted. */
  readonly files: readonly string[];
}

export const MANIFEST_FILE = "baton-manifest.json";
export const PYTHON_PACKAGE = "baton_prefect";

/** The Python module shipped in this npm package (python/baton_prefect). */
export function pythonModuleDir(): string {
  return fileURLToPath(new URL(`../python/${PYTHON_PACKAGE}/`, import.meta.url));
}

export const CORE_PYTHON_PACKAGE = "baton_core";


const posix = (p: string) => p.split(sep).join("/");

/**
 * Write a Prefect project for the definitions: the manifest, the baton_prefect and baton_core modules, flows.py
 * (flows and deployments) and prefect.yaml. Deterministic: same input, byte-identical files.
 */
export function buildPrefectProject(options: BuildPrefectProjectOptions): PrefectProject {
  const outDir = resolve(options.outDir);
  const flowName = options.flowName ?? "baton";
  const manifest = toManifest(options.definitions, { module: options.module, exportName: options.exportName ?? "default", manifestDir: outDir });
  assertManifestVersion(manifest.manifestVersion);
  const resources = options.resources ?? {};
  checkResources(manifest, resources);
  const deployments = deploymentSpecs(manifest, flowName);
  const storage = options.storage === undefined ? null : posix(isAbsolute(options.storage) ? relative(outDir, options.storage) || "." : options.storage);

  const files = new Map<string, string>();
  files.set(MANIFEST_FILE, manifestToJson(manifest));
  for (const [pkg, dir] of [[PYTHON_PACKAGE, pythonModuleDir()], [CORE_PYTHON_PACKAGE, corePythonModuleDir]] as const) {
    for (const name of readdirSync(dir).filter((f) => f.endsWith(".py")).sort()) files.set(`${pkg}/${name}`, readFileSync(join(dir, name), "utf8"));
  }
  files.set(
    "flows.py",
    flowsFile({ flowName, manifestFile: MANIFEST_FILE, module: manifest.runtime.module, resources: sortedResources(resources), storage, deployments }),
  );
  files.set("prefect.yaml", prefectYaml({ flowName, workPool: options.workPool ?? "baton", deployments }));
  files.set("requirements.txt", `prefect==${PREFECT_VERSION}\n`);

  // The copied modules are owned by the build: drop files a previous version shipped.
  for (const pkg of [PYTHON_PACKAGE, CORE_PYTHON_PACKAGE]) {
    rmSync(join(outDir, pkg), { recursive: true, force: true });
    mkdirSync(join(outDir, pkg), { recursive: true });
  }
  for (const [file, text] of files) writeFileSync(join(outDir, file), text);
  return { outDir, manifest, flowName, deployments, files: [...files.keys()].sort() };
}
