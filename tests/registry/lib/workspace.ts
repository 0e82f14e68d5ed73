import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { run } from "./exec.js";

export const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));

/** Environment for commands run in a copy: quiet tools, no telemetry, a git identity. */
export function toolEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    TURBO_TELEMETRY_DISABLED: "1",
    TURBO_NO_UPDATE_NOTIFIER: "1",
    DO_NOT_TRACK: "1",
    NO_COLOR: "1",
    FORCE_COLOR: "0",
    GIT_AUTHOR_NAME: "registry test",
    GIT_AUTHOR_EMAIL: "registry-test@localhost",
    GIT_COMMITTER_NAME: "registry test",
    GIT_COMMITTER_EMAIL: "registry-test@localhost",
    ...extra,
  };
}

/**
 * A private copy of the workspace at `dest`, so the release flow (`changeset version` rewriting
 * package.json and CHANGELOGs, `changeset publish` creating git tags) never touches the real
 * checkout: the tracked and untracked-but-not-ignored files (no dist, no node_modules), node modules
 * linked from pnpm's store (`pnpm install --offline --frozen-lockfile`, well under a second once
 * the workspace is installed), and a git repository with one commit (changeset publish tags it). Pending
 * changesets are left out.
 */
const PENDING_CHANGESET = /^\.changeset\/(?!README\.md$)[^/]+\.md$/;

export async function copyWorkspace(dest: string): Promise<void> {
  const listed = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: REPO_ROOT, encoding: "utf8", maxBuffer: 64 << 20 });
  const files = [...new Set(listed.split("\0").filter(Boolean))];
  for (const file of files) {
    // The workspace's pending changesets belong to its next release: the tests measure what their own
    // changeset does, so the copy starts from a released state.
    if (PENDING_CHANGESET.test(file)) continue;
    const from = join(REPO_ROOT, file);
    if (!existsSync(from) || !lstatSync(from).isFile()) continue; // deleted in the work tree, or a symlink
    mkdirSync(dirname(join(dest, file)), { recursive: true });
    copyFileSync(from, join(dest, file));
  }
  const env = toolEnv();
  const offline = await run("pnpm", ["install", "--offline", "--frozen-lockfile", "--reporter=silent"], { cwd: dest, env, allowFailure: true, timeoutMs: 3 * 60_000 });
  // A lockfile behind a package.json being edited right now: resolve again, in the copy only.
  if (offline.code !== 0) await run("pnpm", ["install", "--prefer-offline", "--no-frozen-lockfile", "--reporter=silent"], { cwd: dest, env, timeoutMs: 5 * 60_000 });
  await run("git", ["init", "--quiet", "--initial-branch=main"], { cwd: dest, env });
  await run("git", ["add", "--all"], { cwd: dest, env });
  await run("git", ["-c", "commit.gpgsign=false", "commit", "--quiet", "--no-verify", "-m", "registry test: workspace snapshot"], { cwd: dest, env });
}

export interface WorkspacePackage {
  readonly name: string;
  readonly version: string;
  readonly dir: string;
  readonly private: boolean;
}

/** The packages under packages/ of a workspace (the publishable ones unless marked private). */
export function workspacePackages(root: string): WorkspacePackage[] {
  const dir = join(root, "packages");
  return readdirSync(dir)
    .filter((d) => existsSync(join(dir, d, "package.json")))
    .sort()
    .map((d) => {
      const pkg = JSON.parse(readFileSync(join(dir, d, "package.json"), "utf8")) as { name: string; version: string; private?: boolean };
      return { name: pkg.name, version: pkg.version, dir: join(dir, d), private: pkg.private === true };
    });
}
