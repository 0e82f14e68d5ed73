/**
 * The release flow against a real registry. A verdaccio (6.8.0, on 127.0.0.1, storage in a temp
 * folder, no uplink) serves @baton/* only; every other package comes from the client's default
 * registry, because the clients are told `@baton:registry=<verdaccio>` and nothing else. Then:
 *
 *   0. `pnpm release` — the root script, build then `changeset publish` — publishes every package
 *      from a private copy of the workspace;
 *   1. a fresh folder outside the workspace runs `npm install @baton/core @baton/adapter-airflow`
 *      and gets those two and their dependencies, no other adapter and nothing of theirs;
 *   2. a changeset bumps only @baton/adapter-dagster; `pnpm version-packages` and `pnpm release`
 *      publish that package alone, as `npm view NAME versions` shows.
 *
 * The path users follow until the packages are published (make pack, npm install of the tarballs,
 * baton init, build, Airflow) is install.integration.test.ts.
 *
 * The registry is stopped in afterAll and, whatever happens, killed after 9 minutes. Nothing is
 * ever published anywhere else: the release's default registry is the local one too.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "./lib/exec.js";
import { lockName, published, reachable, registryVersions, type PackageLock } from "./lib/npm.js";
import { startRegistry, type LocalRegistry } from "./lib/verdaccio.js";
import { copyWorkspace, toolEnv, workspacePackages, type WorkspacePackage } from "./lib/workspace.js";

const REGISTRY_LIFETIME_MS = 9 * 60_000;

let work = "";
let registry: LocalRegistry | undefined;
let repo = ""; // the private copy of the workspace the releases run in
let app = ""; // the user's project, outside the workspace
let publishable: WorkspacePackage[] = [];

/** Environment for the release: @baton/* and the default registry both point at verdaccio. */
const releaseEnv = () => toolEnv({ npm_config_registry: registry!.url, pnpm_config_registry: registry!.url });

async function release(): Promise<void> {
  await run("pnpm", ["release"], { cwd: repo, env: releaseEnv(), timeoutMs: 4 * 60_000 });
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "baton-registry-"));
  registry = await startRegistry(join(work, "registry"), { maxLifetimeMs: REGISTRY_LIFETIME_MS });
  repo = join(work, "repo");
  await copyWorkspace(repo);
  writeFileSync(join(repo, ".npmrc"), `registry=${registry.url}\n${registry.npmrc}`);
  publishable = workspacePackages(repo).filter((p) => !p.private);
  await release();
}, 6 * 60_000);

afterAll(async () => {
  await registry?.stop();
  if (work && !process.env.BATON_KEEP_REGISTRY_TEST) rmSync(work, { recursive: true, force: true });
});

describe("release through a local registry", () => {
  it("`pnpm release` publishes every package, with workspace: ranges resolved", async () => {
    expect(publishable.map((p) => p.name)).toEqual(expect.arrayContaining(["@baton/core", "@baton/testing", "@baton/adapter-airflow", "@baton/adapter-dagster", "@baton/adapter-prefect"]));
    for (const pkg of publishable) {
      expect(await registryVersions(pkg.name, registry!.url, work), pkg.name).toEqual([pkg.version]);
      const manifest = await published(pkg.name, pkg.version, registry!.url);
      const ranges = { ...manifest.dependencies, ...manifest.peerDependencies, ...manifest.optionalDependencies, ...manifest.devDependencies };
      for (const [dep, range] of Object.entries(ranges)) expect(range, `${pkg.name} → ${dep}`).not.toMatch(/^workspace:/);
    }
  });

  it("(1) installs @baton/core and @baton/adapter-airflow alone, without any other adapter or its dependencies", async () => {
    app = join(work, "my-pipeline");
    mkdirSync(app, { recursive: true });
    writeFileSync(join(app, "package.json"), JSON.stringify({ name: "my-pipeline", version: "0.0.0", private: true, type: "module" }, null, 2) + "\n");
    // What a user of a private scope writes: only @baton/* comes from the local registry.
    writeFileSync(join(app, ".npmrc"), `@baton:registry=${registry!.url}\n`);
    await run("npm", ["install", "@baton/core", "@baton/adapter-airflow", "--no-audit", "--no-fund", "--prefer-online"], { cwd: app, timeoutMs: 4 * 60_000 });

    expect(readdirSync(join(app, "node_modules", "@baton")).sort()).toEqual(["adapter-airflow", "core"]);
    const lock = JSON.parse(readFileSync(join(app, "package-lock.json"), "utf8")) as PackageLock;
    const installed = Object.keys(lock.packages).filter((k) => k !== "");
    const batons = installed.filter((k) => lockName(k).startsWith("@baton/")).map(lockName).sort();
    expect(batons).toEqual(["@baton/adapter-airflow", "@baton/core"]);

    // Everything installed is there because of core or the Airflow adapter…
    const wanted = reachable(lock, ["@baton/core", "@baton/adapter-airflow"]);
    expect(installed.filter((k) => !wanted.has(k))).toEqual([]);
    // …and nothing that only the other adapters (or testing) need came along.
    const wantedNames = new Set([...wanted].map(lockName));
    for (const other of publishable.filter((p) => !["@baton/core", "@baton/adapter-airflow"].includes(p.name))) {
      const m = await published(other.name, other.version, registry!.url);
      const theirs = [...Object.keys(m.dependencies ?? {}), ...Object.keys(m.optionalDependencies ?? {}), ...Object.keys(m.peerDependencies ?? {})];
      for (const dep of theirs.filter((d) => !wantedNames.has(d))) {
        expect(installed.map(lockName), `${dep} (a dependency of ${other.name})`).not.toContain(dep);
        expect(existsSync(join(app, "node_modules", dep)), `node_modules/${dep}`).toBe(false);
      }
    }
    await run("npm", ["ls", "--all"], { cwd: app, timeoutMs: 120_000 }); // no missing or invalid (peer) dependency
  });

  it("(2) a changeset for the Dagster adapter alone releases only @baton/adapter-dagster", async () => {
    const before = new Map<string, string[]>();
    for (const p of publishable) before.set(p.name, await registryVersions(p.name, registry!.url, work));
    await run("pnpm", ["changeset", "--patch", "@baton/adapter-dagster", "-m", "A Dagster-only fix (registry test)."], { cwd: repo, env: toolEnv(), timeoutMs: 120_000 });
    await run("pnpm", ["version-packages"], { cwd: repo, env: toolEnv(), timeoutMs: 120_000 });
    const bumped = workspacePackages(repo).find((p) => p.name === "@baton/adapter-dagster")!;
    expect(bumped.version).not.toBe(publishable.find((p) => p.name === "@baton/adapter-dagster")!.version);
    expect(readFileSync(join(bumped.dir, "CHANGELOG.md"), "utf8")).toContain("A Dagster-only fix (registry test).");
    await release();

    for (const p of publishable) {
      const now = await registryVersions(p.name, registry!.url, work);
      if (p.name === "@baton/adapter-dagster") expect(now, p.name).toEqual([...before.get(p.name)!, bumped.version]);
      else expect(now, `${p.name} must not be released`).toEqual(before.get(p.name));
    }
  });
});

