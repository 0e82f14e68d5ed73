import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, cpSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { run } from "./exec.js";

const TOOL_DIR = fileURLToPath(new URL("../verdaccio/", import.meta.url));
const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));

/**
 * verdaccio 6.8.0 from tests/registry/verdaccio/package-lock.json, installed with `npm ci` (npm
 * honours that package.json's `overrides`: node-fetch 2.7.0, without which 6.8.0 does not start
 * on Node 20) into a cache folder keyed by the lockfile, so it is installed once per machine and
 * never enters the workspace's pnpm lockfile. Returns the path of verdaccio's bin script.
 */
export async function installVerdaccio(): Promise<string> {
  const manifest = readFileSync(join(TOOL_DIR, "package.json"));
  const lock = readFileSync(join(TOOL_DIR, "package-lock.json"));
  const hash = createHash("sha256").update(manifest).update(lock).digest("hex").slice(0, 12);
  const root = process.env.BATON_TOOLS_DIR ?? join(REPO_ROOT, "node_modules", ".cache", "baton-tools");
  const dir = join(root, `verdaccio-${hash}`);
  const bin = join(dir, "node_modules", "verdaccio", "bin", "verdaccio");
  if (existsSync(join(dir, ".ready"))) return bin;
  const staging = `${dir}.${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  cpSync(join(TOOL_DIR, "package.json"), join(staging, "package.json"));
  cpSync(join(TOOL_DIR, "package-lock.json"), join(staging, "package-lock.json"));
  await run("npm", ["ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"], { cwd: staging, timeoutMs: 4 * 60_000 });
  writeFileSync(join(staging, ".ready"), lock);
  rmSync(dir, { recursive: true, force: true });
  renameSync(staging, dir);
  return bin;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface LocalRegistry {
  /** http://127.0.0.1:PORT/ */
  readonly url: string;
  /** Token of the user the registry test publishes as. */
  readonly token: string;
  /** The .npmrc lines that send @baton/* (and only them) to this registry, with the token. */
  readonly npmrc: string;
  readonly logFile: string;
  stop(): Promise<void>;
}

/**
 * A verdaccio on 127.0.0.1 serving @baton/* from `dir`/storage, with no uplink: any other name is
 * a 404 here, so clients reach it only through `@baton:registry=` and fetch everything else from
 * their default registry. The process is killed by stop(), when this process exits, and in any
 * case after `maxLifetimeMs`.
 */
export async function startRegistry(dir: string, options: { maxLifetimeMs: number }): Promise<LocalRegistry> {
  const bin = await installVerdaccio();
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/`;
  mkdirSync(join(dir, "storage"), { recursive: true });
  const config = join(dir, "config.yaml");
  writeFileSync(
    config,
    [
      `storage: ${JSON.stringify(join(dir, "storage"))}`,
      "auth:",
      "  htpasswd:",
      `    file: ${JSON.stringify(join(dir, "htpasswd"))}`,
      "uplinks: {}",
      "packages:",
      "  '@baton/*':",
      "    access: $all",
      "    publish: $authenticated",
      "    unpublish: $authenticated",
      "  '**':",
      "    access: $all",
      "web:",
      "  enable: false",
      "log: { type: stdout, format: pretty, level: warn }",
      "",
    ].join("\n"),
  );
  const logFile = join(dir, "verdaccio.log");
  const fd = openSync(logFile, "a");
  const child: ChildProcess = spawn(process.execPath, [bin, "--config", config, "--listen", `127.0.0.1:${port}`], {
    cwd: dir,
    stdio: ["ignore", fd, fd],
    env: { ...process.env, NODE_ENV: "production" },
  });
  closeSync(fd);
  let exited = false;
  const exitedPromise = new Promise<void>((resolve) => child.once("exit", () => ((exited = true), resolve())));
  const killer = setTimeout(() => child.kill("SIGKILL"), options.maxLifetimeMs);
  killer.unref();
  const onExit = () => child.kill("SIGKILL");
  process.once("exit", onExit);
  const stop = async () => {
    clearTimeout(killer);
    process.off("exit", onExit);
    if (exited) return;
    child.kill("SIGTERM");
    const hard = setTimeout(() => child.kill("SIGKILL"), 5_000);
    await exitedPromise;
    clearTimeout(hard);
  };

  const log = () => (existsSync(logFile) ? readFileSync(logFile, "utf8").slice(-4000) : "");
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (exited) throw new Error(`verdaccio exited before it answered on ${url}:\n${log()}`);
    try {
      const res = await fetch(`${url}-/ping`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`verdaccio did not answer on ${url} within 60 s:\n${log()}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }

  const res = await fetch(`${url}-/user/org.couchdb.user:baton-release`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: "baton-release", password: "registry-test-only" }),
  });
  const body = (await res.json()) as { token?: string; error?: string };
  if (!res.ok || !body.token) {
    await stop();
    throw new Error(`could not create the publishing user on ${url}: ${res.status} ${body.error ?? ""}`);
  }
  const host = url.replace(/^http:/, "");
  const npmrc = `@baton:registry=${url}\n${host}:_authToken=${body.token}\n`;
  return { url, token: body.token, npmrc, logFile, stop };
}
