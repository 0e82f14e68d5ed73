#!/usr/bin/env node
// Packaging lint of every publishable package (packages/* without "private": true):
//   1. the packed file list (`pnpm pack --dry-run --json`, what `pnpm publish` ships) holds exactly
//      what the package needs: compiled JS + declarations built from its own src/, README, LICENSE,
//      core's JSON Schema and `baton init` templates, the package's one wheel of its own version
//      (python/dist/baton_<x>-<version>-py3-none-any.whl) — no tests, maps, sources, configs or
//      loose Python modules;
//   2. publint --strict (on the pnpm-packed tarball);
//   3. @arethetypeswrong/cli --pack --profile esm-only.
// Needs the packages built (`pnpm build`). Usage: node scripts/check-packages.mjs [package dir…]
// Exit 0 when every package is clean; otherwise prints each problem and exits 1.
import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, "../../..");
const bin = (name) => join(here, "..", "node_modules", ".bin", name);

/** Folders of the publishable packages, in a stable order. */
export function publishablePackages(root = repoRoot) {
  const dir = join(root, "packages");
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(join(dir, e.name, "package.json")))
    .map((e) => join(dir, e.name))
    .filter((p) => JSON.parse(readFileSync(join(p, "package.json"), "utf8")).private !== true)
    .sort();
}

/** The files `pnpm pack` (hence `pnpm publish` and `changeset publish`) puts in the tarball. */
export async function packedFiles(pkgDir) {
  const { stdout } = await run("pnpm", ["pack", "--dry-run", "--json"], { cwd: pkgDir, maxBuffer: 64 << 20 });
  const json = JSON.parse(stdout.slice(stdout.indexOf("{")));
  return json.files.map((f) => f.path).sort();
}

const FORBIDDEN = [
  [/(^|\/)src\//, "a source folder"],
  [/\.test\.|\.spec\.|(^|\/)__tests__\//, "a test"],
  [/(^|\/)(tests?|conftest\.py)(\/|$)|(^|\/)test_[^/]*\.py$|_test\.py$/, "a Python test"],
  [/requirements-test\.txt$/, "the test pins"],
  [/\.map$/, "a source map (its sources are not shipped)"],
  [/\.tsbuildinfo$|(^|\/)tsconfig[^/]*\.json$|(^|\/)vitest\.config\.|(^|\/)ruff\.toml$|(^|\/)\.ruff_cache\//, "a build or lint config"],
  [/(^|\/)__pycache__\/|\.pyc$/, "Python bytecode"],
  [/(^|\/)node_modules\//, "node_modules"],
  [/conformance-report/, "a test report"],
  [/\.tgz$/, "a tarball"],
];
// `baton init` copies templates/ into the user's project: there a test, a tsconfig and src/ belong.
const TEMPLATE_FORBIDDEN = FORBIDDEN.filter(([, what]) => ["node_modules", "Python bytecode", "a tarball", "a source map (its sources are not shipped)"].includes(what));
const TOP_LEVEL = new Set(["package.json", "README.md", "LICENSE", "CHANGELOG.md", "dist", "schema", "templates", "python"]);

/** Problems in a packed file list; [] when it is exactly what the package needs. */
export function checkPackedFiles(pkgDir, files) {
  const problems = [];
  const pkg = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8"));
  const has = (p) => files.includes(p);
  for (const required of ["package.json", "README.md", "LICENSE"]) if (!has(required)) problems.push(`missing ${required}`);
  const unwanted = new Map();
  for (const f of files) {
    const top = f.split("/")[0];
    if (!TOP_LEVEL.has(top)) problems.push(`unexpected file ${f} (a package ships ${[...TOP_LEVEL].join(", ")})`);
    if (top === "templates" && pkg.name !== "@baton/core") problems.push(`unexpected file ${f} (only @baton/core ships templates, for baton init)`);
    for (const [re, what] of top === "templates" ? TEMPLATE_FORBIDDEN : FORBIDDEN) if (re.test(f)) unwanted.set(what, [...(unwanted.get(what) ?? []), f]);
  }
  for (const [what, list] of unwanted)
    problems.push(`ships ${list.length === 1 ? what : `${list.length} files that are each ${what}`}: ${list.slice(0, 3).join(", ")}${list.length > 3 ? ", …" : ""}`);
  // Compiled output comes from this package's own sources, nothing else.
  const js = files.filter((f) => f.startsWith("dist/") && f.endsWith(".js"));
  if (js.length === 0) problems.push("no compiled JavaScript under dist/ (run the build first)");
  for (const f of js) {
    const stem = f.slice("dist/".length, -".js".length);
    if (!["ts", "mts", "tsx", "js", "mjs"].some((ext) => existsSync(join(pkgDir, "src", `${stem}.${ext}`))))
      problems.push(`${f} has no source in ${relative(repoRoot, pkgDir)}/src (stale output, or another package's code)`);
    if (!has(`dist/${stem}.d.ts`)) problems.push(`${f} has no type declaration dist/${stem}.d.ts`);
  }
  for (const target of [...exportTargets(pkg.exports), ...Object.values(typeof pkg.bin === "string" ? { x: pkg.bin } : pkg.bin ?? {})]) {
    const p = target.replace(/^\.\//, "");
    if (!p.includes("*") && !has(p)) problems.push(`exports/bin target ${target} is not in the package`);
  }
  if (pkg.name === "@baton/core") {
    if (!has("schema/manifest.schema.json")) problems.push("missing schema/manifest.schema.json");
    for (const t of ["templates/init/package.json.tmpl", "templates/init/src/definitions.ts"]) if (!has(t)) problems.push(`missing ${t} (baton init scaffolds from it)`);
  }
  problems.push(...wheelProblems(pkgDir, pkg, files));
  if (/^@baton\/adapter-/.test(pkg.name)) {
    // `baton <target>` imports the adapter's "./cli" export: it must resolve for an ESM import.
    const cli = conditionTarget(pkg.exports?.["./cli"], ["import", "node"]);
    if (!cli) problems.push(`no "./cli" export for \`baton ${pkg.name.slice("@baton/adapter-".length)}\` to import`);
    else if (!has(cli.replace(/^\.\//, ""))) problems.push(`exports["./cli"] → ${cli} is not in the package`);
  }
  return problems;
}

/**
 * A package with a Python distribution (python/pyproject.toml) ships exactly its one wheel, of the
 * npm package's version (the versioning rule of .changeset/README.md), and no loose module.
 */
function wheelProblems(pkgDir, pkg, files) {
  const python = files.filter((f) => f.startsWith("python/"));
  // Without a distribution, only what the package's code uses at run time by path: pin files (@baton/testing's
  // moto pins) and single-file scripts it runs with `python <file>` (@baton/iceberg's reader). A folder would be a
  // loose module, which belongs in a wheel.
  if (!existsSync(join(pkgDir, "python", "pyproject.toml")))
    return python
      .filter((f) => !/^python\/(requirements-[\w-]+\.txt|[\w-]+\.py)$/.test(f))
      .map((f) => `unexpected file ${f} (no python/pyproject.toml; only python/requirements-*.txt pin files and python/<script>.py)`);
  const dist = `baton_${pkg.name.replace(/^@baton\/(adapter-)?/, "")}`;
  const expected = `python/dist/${dist}-${pkg.version}-py3-none-any.whl`;
  const problems = python.filter((f) => f !== expected).map((f) => `unexpected Python file ${f} (a package ships only ${expected})`);
  if (!has(files, expected)) problems.push(`missing its wheel ${expected} (the build script runs \`uv build --wheel\`; the wheel's version must be the package's)`);
  return problems;
}
const has = (files, p) => files.includes(p);

/** The file a conditional export resolves to under `conditions` (Node's rules: first matching key wins). */
function conditionTarget(exp, conditions) {
  if (exp == null) return undefined;
  if (typeof exp === "string") return exp;
  for (const [key, value] of Object.entries(exp)) {
    if (key === "default" || conditions.includes(key)) {
      const t = conditionTarget(value, conditions);
      if (t) return t;
    }
  }
  return undefined;
}

function exportTargets(exp) {
  if (exp == null) return [];
  if (typeof exp === "string") return [exp];
  return Object.values(exp).flatMap(exportTargets);
}

async function tool(cmd, args, cwd) {
  try {
    const { stdout, stderr } = await run(cmd, args, { cwd, maxBuffer: 64 << 20, env: { ...process.env, FORCE_COLOR: "0", NO_COLOR: "1" } });
    return { ok: true, output: `${stdout}${stderr}` };
  } catch (e) {
    return { ok: false, output: `${e.stdout ?? ""}${e.stderr ?? ""}${e.stdout || e.stderr ? "" : e.message}` };
  }
}

/** publint --strict on what pnpm packs. */
export const publint = (pkgDir) => tool(bin("publint"), ["run", pkgDir, "--pack", "pnpm", "--strict"], pkgDir);
/** attw on what npm packs, for an ESM-only package (CommonJS and node10 resolution are not claimed). */
export const attw = (pkgDir) => tool(bin("attw"), ["--pack", pkgDir, "--profile", "esm-only", "--format", "ascii", "--no-emoji", "--no-color"], pkgDir);

/** Every check on one package: { name, dir, files, problems, publint, attw }. */
export async function checkPackage(pkgDir) {
  const name = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8")).name;
  let files = [];
  let problems;
  try {
    files = await packedFiles(pkgDir);
    problems = checkPackedFiles(pkgDir, files);
  } catch (e) {
    problems = [`pnpm pack failed: ${e.message}`];
  }
  const [pl, tw] = await Promise.all([publint(pkgDir), attw(pkgDir)]);
  return { name, dir: pkgDir, files, problems, publint: pl, attw: tw, ok: problems.length === 0 && pl.ok && tw.ok };
}

async function main() {
  const dirs = process.argv.length > 2 ? process.argv.slice(2).map((d) => resolve(d)) : publishablePackages();
  let failed = 0;
  for (const dir of dirs) {
    const r = await checkPackage(dir);
    const mark = (ok) => (ok ? "ok" : "FAIL");
    console.log(`${r.ok ? "✓" : "✗"} ${r.name}  files: ${r.files.length} (${mark(r.problems.length === 0)})  publint: ${mark(r.publint.ok)}  attw: ${mark(r.attw.ok)}`);
    for (const p of r.problems) console.log(`    files: ${p}`);
    if (!r.publint.ok) console.log(indent(r.publint.output));
    if (!r.attw.ok) console.log(indent(r.attw.output));
    if (!r.ok) failed++;
  }
  console.log(`${dirs.length - failed} passed, ${failed} failed`);
  process.exitCode = failed ? 1 : 0;
}

const indent = (s) => s.trim().split("\n").map((l) => `    ${l}`).join("\n");

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
