import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { run, type RunResult } from "./exec.js";

/**
 * The environment of a user's shell: this process's, without what pnpm and npm put there for the
 * test script (npm_config_*, npm_package_*, PNPM_*, INIT_CWD: e.g. pnpm's node-version setting
 * would change which packages npm skips) and without NODE_PATH, so nothing of the workspace leaks.
 */
export function userEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^(npm_config_|npm_package_|npm_lifecycle_|pnpm_|PNPM_)/i.test(k) && !["INIT_CWD", "NODE_PATH", "NODE_OPTIONS", "VITEST", "VITEST_MODE", "VITEST_POOL_ID", "VITEST_WORKER_ID", "TEST"].includes(k)),
  );
  return { ...env, NO_COLOR: "1", FORCE_COLOR: "0", npm_config_update_notifier: "false", npm_config_fund: "false", npm_config_audit: "false", ...extra };
}

/** The package nodejs-polars fails to find: npm skipped it on Node < 22 (its engines say node >= 22). */
export const missingPolarsBinary = (r: RunResult) => /Cannot find module '(nodejs-polars-[a-z0-9-]+)'/.exec(r.stdout + r.stderr)?.[1];

/**
 * `npx --package=<core tarball> baton ARGS`, as the README says to run `baton init` before a project
 * exists. On Node 20 npm leaves out nodejs-polars' native package, which the CLI loads at start;
 * the README's fix is to name it with a second `--package`: do the same, and say so on stderr.
 */
export async function npxBaton(coreTarball: string, args: readonly string[], cwd: string, polarsVersion: string): Promise<RunResult & { readonly polarsBinary?: string }> {
  const npx = (extra: string[]) => run("npx", ["--yes", `--package=${coreTarball}`, ...extra, "baton", ...args], { cwd, env: userEnv(), allowFailure: true, timeoutMs: 4 * 60_000 });
  const first = await npx([]);
  if (first.code === 0) return first;
  const missing = missingPolarsBinary(first);
  if (!missing || Number(process.versions.node.split(".")[0]) >= 22) throw new Error(`npx baton ${args.join(" ")} failed (${first.code}):\n${(first.stdout + first.stderr).slice(-4000)}`);
  console.warn(`Node ${process.versions.node}: npx left out ${missing} (engines node >= 22); running again with --package=${missing}@${polarsVersion}, as the README says`);
  const second = await npx([`--package=${missing}@${polarsVersion}`]);
  if (second.code !== 0) throw new Error(`npx baton ${args.join(" ")} failed (${second.code}) even with ${missing}:\n${(second.stdout + second.stderr).slice(-4000)}`);
  return { ...second, polarsBinary: missing };
}

export const sha256 = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");

/** Unpack an npm tarball into `dir`; returns the package's folder (`dir`/package). */
export async function unpack(tarball: string, dir: string): Promise<string> {
  mkdirSync(dir, { recursive: true });
  await run("tar", ["-xzf", tarball, "-C", dir], { cwd: dir, timeoutMs: 60_000 });
  return join(dir, "package");
}

/**
 * npx installs `--package` specs into `<npm cache>/_npx/<hash>/` and keeps them (~150 MB with
 * nodejs-polars). Remove the installs whose packages came from `dir` (the test's temp folder), so
 * runs do not pile up in the user's cache. Returns how many were removed.
 */
export async function removeNpxInstalls(dir: string): Promise<number> {
  const cache = (await run("npm", ["config", "get", "cache"], { cwd: dir, env: userEnv(), timeoutMs: 60_000 })).stdout.trim();
  const root = join(cache, "_npx");
  if (!cache || !existsSync(root)) return 0;
  let removed = 0;
  for (const entry of readdirSync(root)) {
    const pkgFile = join(root, entry, "package.json");
    if (!existsSync(pkgFile)) continue;
    const packages = (JSON.parse(readFileSync(pkgFile, "utf8")) as { _npx?: { packages?: string[] } })._npx?.packages ?? [];
    if (!packages.some((p) => p.startsWith(`${dir}/`))) continue;
    rmSync(join(root, entry), { recursive: true, force: true });
    removed++;
  }
  return removed;
}
