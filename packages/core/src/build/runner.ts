import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, isAbsolute, join, resolve } from "node:path";
import type { Definitions } from "../definitions.js";
import { BatonError } from "../errors.js";
import { loadDefinitions } from "../load.js";
import { manifestToJson, sortKeys, toManifest } from "../manifest/build.js";
import type { Manifest } from "../manifest/types.js";
import { corePythonWheel } from "../python.js";
import { copyClosure, planClosure } from "./closure.js";
import type { BatonAdapter, BuildInput, OutputFile } from "./contract.js";
import { rawTargetOptions } from "./options.js";
import { assertReplaceable, replaceAtomically } from "./output.js";
import { compileModule, type CompiledModule } from "./runtime.js";
import { checkStorage } from "./storage.js";

/** What `buildTarget` and `planTarget` need to know about the project. */
export interface ProjectInput {
  /** The folder of the project's package.json (its node_modules hold what the runtime copies). */
  readonly projectRoot: string;
  /** The definitions source (absolute, or relative to projectRoot), e.g. `src/definitions.ts`. */
  readonly definitionsFile: string;
  /** The export holding the definitions; "default" by default. */
  readonly exportName?: string;
  /** The definitions, when the caller loaded them already; otherwise loaded from definitionsFile. */
  readonly defs?: Definitions;
  /** The adapter's option values from flags, by camelCase key; package.json `baton.<target>` fills the rest. */
  readonly rawOptions?: Readonly<Record<string, unknown>>;
  /** package.json `name` for the adapter (default: read from projectRoot/package.json). */
  readonly projectName?: string;
}

export interface BuildTargetOptions extends ProjectInput {
  /** The output folder (absolute, or relative to the process's cwd); replaced as a whole. */
  readonly outDir: string;
  /** `--storage`: an absolute path or a URL, kept verbatim; null or absent: the workers' BATON_STORAGE. */
  readonly storage?: string | null;
}

export interface BuildResult<O> {
  /** The output folder, absolute. */
  readonly outDir: string;
  /** As written to OUT/baton/manifest.json. */
  readonly manifest: Manifest;
  /** What the adapter's emit() received (for nextSteps). */
  readonly input: BuildInput<O>;
  /** Every file of the build outside baton/runtime/node_modules, relative with "/", sorted. */
  readonly files: readonly string[];
  /** The runtime's packages (name@version at their node_modules location) and its file count. */
  readonly runtime: { readonly packages: readonly string[]; readonly files: number };
}

/**
 * Build the project for one target into `outDir` (see BUILD-CONTRACT.md for the layout): compile
 * the definitions (content-addressed), write the manifest v2, the step runtime with its production
 * closure, the wheels, requirements.txt and the adapter's files into a fresh sibling folder, then
 * swap it in. Throws a BatonError (nothing changed on disk) for a bad option or storage, an
 * orchestrator rule the definitions break (all listed at once), or an output folder that is not a
 * previous build.
 */
export async function buildTarget<O>(adapter: BatonAdapter<O>, options: BuildTargetOptions): Promise<BuildResult<O>> {
  const out = resolve(options.outDir);
  const storage = checkStorage(options.storage);
  assertReplaceable(out); // before any work; checked again just before the swap
  const prepared = await prepare(adapter, options, join(out, "baton"));
  const { compiled, manifest, resolved } = prepared;
  const problems = adapter.problems(manifest, resolved);
  if (problems.length > 0) throw definitionProblems(adapter, problems, prepared.definitionsFile);
  const input: BuildInput<O> = { manifest, options: resolved, storage, projectName: prepared.projectName };
  const emitted = checkEmitted(adapter, adapter.emit(input), [prepared.root, out]);
  const python = adapter.python();
  const wheels = uniqueWheels([corePythonWheel(), ...python.wheels]);
  const requirements = requirementsText(adapter.name, python.requirements, wheels);
  const closure = planClosure(prepared.root, [...compiled.packages, adapter.runtime.stepPackage]);
  let runtimeFiles = 0;
  await replaceAtomically(out, async (dir) => {
    const baton = join(dir, "baton");
    const runtime = join(baton, "runtime");
    mkdirSync(runtime, { recursive: true });
    writeFileSync(join(baton, "manifest.json"), manifestToJson(manifest));
    writeFileSync(join(baton, "build.json"), JSON.stringify(sortKeys({ target: adapter.name, storage, options: resolved ?? null }), null, 2) + "\n");
    writeFileSync(join(runtime, "package.json"), JSON.stringify({ name: "baton-runtime", private: true, type: "module", dependencies: closure.direct }, null, 2) + "\n");
    writeFileSync(join(runtime, compiled.fileName), compiled.code);
    writeFileSync(join(runtime, compiled.mapFileName), compiled.map);
    runtimeFiles = copyClosure(closure, runtime);
    const stepEntry = join(baton, ...manifest.runtime.stepEntry.split("/"));
    if (!existsSync(stepEntry)) {
      throw new BatonError("CONFIG", `the step entry ${adapter.runtime.stepPackage}/${adapter.runtime.stepBin} is not in the installed package`, {
        file: join(closure.packages.find((p) => p.name === adapter.runtime.stepPackage)?.source ?? prepared.root, adapter.runtime.stepBin),
        hint: `build ${adapter.runtime.stepPackage} (pnpm --filter ${adapter.runtime.stepPackage} build) or reinstall it`,
      });
    }
    mkdirSync(join(dir, "wheels"));
    for (const wheel of wheels) copyFileSync(wheel, join(dir, "wheels", basename(wheel)));
    writeFileSync(join(dir, "requirements.txt"), requirements);
    for (const file of emitted) {
      const to = join(dir, ...file.path.split("/"));
      mkdirSync(dirname(to), { recursive: true });
      writeFileSync(to, file.content);
    }
  });
  return {
    outDir: out,
    manifest,
    input,
    files: listFiles(out),
    runtime: { packages: closure.packages.map((p) => `${p.location.replace(/^node_modules\//, "")}@${p.version}`), files: runtimeFiles },
  };
}

interface Prepared<O> {
  readonly root: string;
  readonly definitionsFile: string;
  readonly projectName: string | undefined;
  readonly compiled: CompiledModule;
  readonly manifest: Manifest;
  readonly resolved: O;
}

/** Options, compiled module and manifest: shared by build and plan (plan writes nothing). */
export async function prepare<O>(adapter: BatonAdapter<O>, input: ProjectInput, batonDir: string): Promise<Prepared<O>> {
  const root = resolve(input.projectRoot);
  const definitionsFile = resolve(root, input.definitionsFile);
  const exportName = input.exportName ?? "default";
  const projectName = input.projectName ?? packageName(root);
  const resolved = adapter.resolveOptions(rawTargetOptions(adapter, root, input.rawOptions ?? {}), { name: projectName });
  const compiled = await compileModule(root, definitionsFile);
  const defs = input.defs ?? (await loadDefinitions(definitionsFile, exportName));
  const runtime = join(batonDir, "runtime");
  const manifest = toManifest(defs, {
    module: join(runtime, compiled.fileName),
    moduleHash: compiled.moduleHash,
    exportName,
    manifestDir: batonDir,
    projectRoot: root,
    stepEntry: join(runtime, "node_modules", ...adapter.runtime.stepPackage.split("/"), ...adapter.runtime.stepBin.split("/")),
  });
  return { root, definitionsFile, projectName, compiled, manifest, resolved };
}

export function definitionProblems(adapter: BatonAdapter<never> | { readonly title: string; readonly name: string }, problems: readonly string[], file: string): BatonError {
  return new BatonError("INVALID_DEFINITION", `${problems.length} problem${problems.length === 1 ? "" : "s"} for ${adapter.title}:\n    - ${problems.join("\n    - ")}`, {
    file,
    hint: `fix the definitions; \`baton ${adapter.name} plan\` shows the translation without building`,
  });
}

const CORE_PATHS = /^(baton|wheels)(\/|$)|^requirements\.txt$/;

/** The adapter's files, checked: relative, inside OUT, not core's, and mentioning no build-time path. */
function checkEmitted(adapter: { readonly name: string }, files: readonly OutputFile[], forbidden: readonly string[]): OutputFile[] {
  const seen = new Set<string>();
  const fail = (path: string, problem: string) =>
    new BatonError("CONFIG", `@baton/adapter-${adapter.name} emitted ${JSON.stringify(path)}, ${problem}`, { file: path, hint: `this is a bug in @baton/adapter-${adapter.name}: report it, or upgrade it` });
  const paths = forbidden.filter((p) => p.length > 1);
  for (const f of files) {
    const segments = f.path.split("/");
    if (isAbsolute(f.path) || /^[A-Za-z]:/.test(f.path) || f.path.includes("\\")) throw fail(f.path, "which is not a relative path with '/'");
    if (segments.some((s) => s === ".." || s === "." || s === "")) throw fail(f.path, "whose path has an empty, '.' or '..' segment");
    if (CORE_PATHS.test(f.path)) throw fail(f.path, "which is one of core's paths (baton/, wheels/, requirements.txt)");
    if (seen.has(f.path)) throw fail(f.path, "twice");
    seen.add(f.path);
    const bytes = Buffer.from(f.content);
    for (const path of paths) {
      if (bytes.includes(path)) throw fail(f.path, `whose content contains the build-time path ${path}: a build must run from any folder`);
    }
  }
  return [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

function uniqueWheels(paths: readonly string[]): string[] {
  const byName = new Map<string, string>();
  for (const p of paths) {
    const prior = byName.get(basename(p));
    if (prior && readFileSync(prior).compare(readFileSync(p)) !== 0) {
      throw new BatonError("CONFIG", `two different wheels are called ${basename(p)}: ${prior} and ${p}`, { hint: "rebuild the packages (pnpm build) so each ships one wheel" });
    }
    byName.set(basename(p), p);
  }
  return [...byName.values()].sort((a, b) => (basename(a) < basename(b) ? -1 : 1));
}

/** `baton_core-0.1.0-py3-none-any.whl` → `baton-core==0.1.0`. */
export function wheelPin(file: string): string {
  const m = /^([A-Za-z0-9_.]+)-([^-]+)-.+\.whl$/.exec(basename(file));
  if (!m) throw new BatonError("CONFIG", "not a wheel file name (name-version-tags.whl)", { file, hint: "rebuild the wheel with `uv build --wheel`" });
  return `${m[1]!.replace(/_/g, "-").toLowerCase()}==${m[2]}`;
}

/** requirements.txt: a header, `--find-links wheels`, then one exact pin per distribution, sorted by name. */
export function requirementsText(target: string, requirements: readonly string[], wheels: readonly string[]): string {
  const byName = new Map<string, string>();
  for (const pin of new Set([...requirements, ...wheels.map(wheelPin)])) {
    // PEP 503 normalisation: "Dagster_Pipes" and "dagster-pipes" are one distribution.
    const name = pin.split(/[=<>!~ ;[]/)[0]!.toLowerCase().replace(/[-_.]+/g, "-");
    const prior = byName.get(name);
    if (prior) throw new BatonError("CONFIG", `two requirements for ${name}: "${prior}" and "${pin}"`, { hint: `@baton/adapter-${target} and its wheels must pin ${name} once` });
    byName.set(name, pin);
  }
  const pins = [...byName.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, pin]) => pin);
  return [
    `# Python requirements of this Baton build for ${target}: exact pins, the Baton wheels from ./wheels.`,
    "#   pip install -r requirements.txt   (or: uv pip install -r requirements.txt)",
    "--find-links wheels",
    ...pins,
    "",
  ].join("\n");
}

function packageName(root: string): string | undefined {
  try {
    const name = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { name?: unknown }).name;
    return typeof name === "string" ? name : undefined;
  } catch {
    return undefined;
  }
}

function listFiles(dir: string, prefix = ""): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (rel === "baton/runtime/node_modules") continue;
    if (entry.isDirectory()) out.push(...listFiles(dir, rel));
    else out.push(rel);
  }
  return out.sort();
}
