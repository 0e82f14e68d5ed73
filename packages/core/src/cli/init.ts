import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { BatonError } from "../errors.js";

/** packages/core/templates/init, the same two levels up from src/cli and from dist/cli. */
const TEMPLATES = fileURLToPath(new URL("../../templates/init/", import.meta.url));
const CORE_PACKAGE = fileURLToPath(new URL("../../package.json", import.meta.url));

/**
 * Template names that cannot be shipped as they are: npm packs a `.gitignore` as `.npmignore`
 * (and would apply it to the tarball), so it travels as `gitignore`. A `.tmpl` file has its
 * `{{name}}` and `{{coreVersion}}` filled in and loses the suffix.
 */
const RENAMED: Readonly<Record<string, string>> = { gitignore: ".gitignore" };

export interface InitResult {
  /** Absolute folder of the new project. */
  readonly dir: string;
  /** package.json `name`, derived from the folder's name. */
  readonly name: string;
  /** Files written, relative to `dir`, with "/" separators, sorted. */
  readonly files: readonly string[];
}

/**
 * Scaffold a Baton project in `dir` (created if missing): package.json with the `baton` field,
 * src/definitions.ts, src/logic/ with a pure function and its unit test, tsconfig.json, .gitignore.
 * Never loads definitions. Refuses a folder that has anything in it, so nothing is overwritten.
 */
export function initProject(dir: string, options: { readonly coreVersion?: string } = {}): InitResult {
  const target = resolve(dir);
  if (existsSync(target)) {
    if (!statSync(target).isDirectory()) throw new BatonError("CONFIG", `${target} exists and is not a folder`, { file: target, hint: "name a new folder: baton init my-pipeline" });
    const present = readdirSync(target);
    if (present.length > 0)
      throw new BatonError("CONFIG", `${target} is not empty (${present.slice(0, 3).join(", ")}${present.length > 3 ? ", …" : ""}); baton init never overwrites files`, {
        file: target,
        hint: "name a new or empty folder: baton init my-pipeline",
      });
  }
  const values = { name: packageName(basename(target)), coreVersion: options.coreVersion ?? coreVersion() };
  const files: string[] = [];
  for (const source of templateFiles(TEMPLATES)) {
    const rel = relative(TEMPLATES, source).split("\\").join("/");
    const name = basename(rel);
    let out = join(dirname(rel), RENAMED[name] ?? name).split("\\").join("/");
    let content = readFileSync(source, "utf8");
    if (out.endsWith(".tmpl")) {
      out = out.slice(0, -".tmpl".length);
      content = content.replace(/\{\{(\w+)\}\}/g, (whole, key: string) => (key in values ? values[key as keyof typeof values] : whole));
    }
    mkdirSync(dirname(join(target, out)), { recursive: true });
    writeFileSync(join(target, out), content, { flag: "wx" });
    files.push(out.replace(/^\.\//, ""));
  }
  return { dir: target, name: values.name, files: files.sort() };
}

/** `baton init [DIR]`: scaffold, then say what to run next. Returns the exit code. */
export function runInit(args: readonly string[], io: { readonly cwd: string; out(text: string): void; err(text: string): void }): number {
  if (args.length > 1) {
    io.err(`usage: baton init [DIR]  (one folder, got ${args.length}: ${args.join(" ")})`);
    return 2;
  }
  const dir = args[0] ?? ".";
  const result = initProject(resolve(io.cwd, dir));
  const shown = relative(io.cwd, result.dir) || ".";
  io.out(`✔ created the Baton project ${result.name} in ${shown}: ${result.files.join(", ")}`);
  io.out(nextSteps(shown, coreVersion()).join("\n"));
  return 0;
}

/** What to run after `baton init`, including the Node 20 + npm step nodejs-polars needs. */
export function nextSteps(shown: string, version: string, node = process.versions.node): string[] {
  const lines = ["", "Next:"];
  if (shown !== ".") lines.push(`  cd ${shown}`);
  // @baton/* is not on the public registry yet: `make pack` in a Baton checkout writes the tarballs.
  lines.push(`  npm install <baton checkout>/dist/baton-core-${version}.tgz <baton checkout>/dist/baton-adapter-<target>-<version>.tgz   # written by make pack`);
  const major = Number(node.split(".")[0]);
  if (major < 22)
    lines.push(
      `  npm install ${polarsBinary()}@0.25.2   # Node ${node} with npm: nodejs-polars' native package says node >= 22, so npm skips it unless named`,
    );
  lines.push(
    "  npm test                    # the logic's unit tests (src/logic), no orchestrator",
    "  npx baton materialize       # run every asset on the embedded executor; outputs in .baton/storage",
    "  npx baton <target> plan     # what a build for <target> (dagster, airflow, prefect) would produce, writing nothing",
    "  npx baton <target> build --out build/<target>   # a self-contained folder to deploy",
  );
  return lines;
}

/** The nodejs-polars native package for this machine, e.g. nodejs-polars-linux-x64-gnu. */
export function polarsBinary(platform: string = process.platform, arch: string = process.arch, musl = isMusl()): string {
  const abi = platform === "linux" ? (musl ? "-musl" : "-gnu") : platform === "win32" ? "-msvc" : "";
  return `nodejs-polars-${platform}-${arch}${abi}`;
}

function isMusl(): boolean {
  if (process.platform !== "linux") return false;
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  return !header?.glibcVersionRuntime;
}

/** An npm package name from a folder name: lower case, only the characters npm allows. */
export function packageName(folder: string): string {
  const name = folder
    .toLowerCase()
    .replace(/[^a-z0-9._~-]+/g, "-")
    .replace(/^[._-]+|-+$/g, "");
  return name || "baton-project";
}

function coreVersion(): string {
  return (JSON.parse(readFileSync(CORE_PACKAGE, "utf8")) as { version: string }).version;
}

function templateFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((e) => (e.isDirectory() ? templateFiles(join(dir, e.name)) : e.isFile() ? [join(dir, e.name)] : []));
}
