/**
 * Independent versions, proven on a private copy of the workspace with the real root scripts
 * (`pnpm version-packages` = `changeset version`): a changeset bumps the packages it names and,
 * thanks to `onlyUpdatePeerDependentsWhenOutOfRange`, the adapters and testing (which peer-depend
 * on `@baton/core` with a caret range) only follow core when its new version leaves that range.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "./lib/exec.js";
import { copyWorkspace, toolEnv, workspacePackages } from "./lib/workspace.js";

let root = "";

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "baton-versioning-"));
  await copyWorkspace(root);
}, 180_000);

afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

type Manifest = { name: string; version: string; peerDependencies?: Record<string, string> };
const manifests = () => new Map(workspacePackages(root).map((p) => [p.name, JSON.parse(readFileSync(join(p.dir, "package.json"), "utf8")) as Manifest]));
const changelogs = () => workspacePackages(root).filter((p) => existsSync(join(p.dir, "CHANGELOG.md"))).map((p) => p.name);

/** Apply one changeset with `pnpm version-packages` on a clean copy; return the versions before and after. */
async function version(releases: Record<string, "patch" | "minor" | "major">, summary: string) {
  const env = toolEnv();
  await run("git", ["checkout", "--quiet", "--", "."], { cwd: root, env });
  await run("git", ["clean", "--quiet", "-fd"], { cwd: root, env });
  const before = manifests();
  const front = Object.entries(releases).map(([name, type]) => `"${name}": ${type}`).join("\n");
  writeFileSync(join(root, ".changeset", "registry-test-change.md"), `---\n${front}\n---\n\n${summary}\n`);
  await run("pnpm", ["version-packages"], { cwd: root, env, timeoutMs: 120_000 });
  return { before, after: manifests() };
}

describe("independent versions with changesets", () => {
  it("a core patch bumps only @baton/core: the adapters' ^ peer range still holds", async () => {
    const { before, after } = await version({ "@baton/core": "patch" }, "Fix a bug in core.");
    const core = after.get("@baton/core")!;
    expect(core.version).not.toBe(before.get("@baton/core")!.version);
    for (const [name, pkg] of after) {
      if (name === "@baton/core") continue;
      expect(pkg.version, `${name} must not be released for a core patch`).toBe(before.get(name)!.version);
      expect(pkg.peerDependencies, name).toEqual(before.get(name)!.peerDependencies);
    }
    expect(changelogs()).toEqual(["@baton/core"]);
    expect(readFileSync(join(root, "packages", "core", "CHANGELOG.md"), "utf8")).toContain("Fix a bug in core.");
    expect(existsSync(join(root, ".changeset", "registry-test-change.md"))).toBe(false);
  });

  it("a core version outside the adapters' peer range patches each dependent and moves its range", async () => {
    const { before, after } = await version({ "@baton/core": "major" }, "Break the manifest.");
    const core = after.get("@baton/core")!.version;
    for (const [name, pkg] of after) {
      if (name === "@baton/core" || !before.get(name)!.peerDependencies?.["@baton/core"]) continue;
      expect(pkg.version, `${name} must follow an out-of-range core`).not.toBe(before.get(name)!.version);
      expect(pkg.peerDependencies?.["@baton/core"], name).toBe(`^${core}`);
    }
    // The release commit needs no lockfile change: CI's frozen install still passes.
    await run("pnpm", ["install", "--offline", "--frozen-lockfile", "--reporter=silent"], { cwd: root, env: toolEnv(), timeoutMs: 120_000 });
  });

  it("an adapter changeset bumps only that adapter and writes only its CHANGELOG", async () => {
    const { before, after } = await version({ "@baton/adapter-dagster": "minor" }, "Dagster-only feature.");
    const changed = [...after].filter(([name, pkg]) => pkg.version !== before.get(name)!.version).map(([name]) => name);
    expect(changed).toEqual(["@baton/adapter-dagster"]);
    expect(changelogs()).toEqual(["@baton/adapter-dagster"]);
  });
});
