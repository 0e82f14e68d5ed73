import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { loadDefinitions } from "../load.js";
import { manifestToJson, toManifest } from "../manifest/build.js";
import { EVENT_PREFIX } from "../step/protocol.js";
import type { StepEvent } from "../step/events.js";
import { cleanupTempDirs, tempDir } from "../__tests__/helpers.js";

// Real Node processes on a loaded 2-core machine: deadlines, not pauses.
vi.setConfig({ testTimeout: 180_000 });

/*
 * The compiled `baton-step worker` served over its Unix socket, spoken to frame by frame as
 * WORKER-CONTRACT.md ("Wire protocol") says: what the Python client relies on.
 */
const CORE = fileURLToPath(new URL("../..", import.meta.url));
const STEP_BIN = join(CORE, "dist", "step", "bin.js");
const TOKEN = "CANARY-server-4be1";

const DEFS = `
import pl from "nodejs-polars";
import { existsSync, writeFileSync } from "node:fs";
import { asset, definitions, resource, secret } from "@baton/core";

const vault = resource({ config: { token: secret("S_TOKEN") }, create: ({ token }) => ({ token }) });
export default definitions({
  resources: { vault },
  assets: [
    asset({
      key: "prints",
      resources: ["vault"],
      compute: (_i, { resources }) => {
        console.log("token=" + resources.vault.token + " only=" + (process.env.S_ONLY ?? "unset") + " cwd=" + process.cwd());
        process.stderr.write("err line\\n");
        return pl.DataFrame({ x: [1] });
      },
    }),
    asset({
      key: "lingers",
      resources: ["vault"],
      compute: (_i, { resources }) => {
        // Unref'd: a ref'd one would retire the worker after this step (see the Python tests).
        setInterval(() => console.log("late from lingers token=" + resources.vault.token), 50).unref();
        return pl.DataFrame({ x: [1] });
      },
    }),
    asset({ key: "waits_a_bit", compute: () => new Promise((r) => setTimeout(() => r(pl.DataFrame({ x: [1] })), 800)) }),
    asset({
      key: "sleeper",
      compute: async () => {
        writeFileSync(process.env.S_MARKER, String(process.pid));
        while (!existsSync(process.env.S_RELEASE)) await new Promise((r) => setTimeout(r, 20));
        return pl.DataFrame({ x: [1] });
      },
    }),
  ],
});
`;

let dir: string;
let manifestPath: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  if (!existsSync(STEP_BIN)) throw new Error("these tests run the built baton-step: run pnpm --filter @baton/core build first");
  dir = tempDir("baton-worker-server-");
  mkdirSync(join(dir, "node_modules", "@baton"), { recursive: true });
  symlinkSync(CORE, join(dir, "node_modules", "@baton", "core"), "dir");
  symlinkSync(join(CORE, "node_modules", "nodejs-polars"), join(dir, "node_modules", "nodejs-polars"), "dir");
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "worker-server-fixture", private: true, type: "module" }));
  writeFileSync(join(dir, "defs.mjs"), DEFS);
  const defs = await loadDefinitions(join(dir, "defs.mjs"));
  manifestPath = join(dir, "manifest.json");
  writeFileSync(manifestPath, manifestToJson(toManifest(defs, { module: join(dir, "defs.mjs"), manifestDir: dir, stepEntry: STEP_BIN })));
});

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
});
afterAll(cleanupTempDirs);

async function waitFor(condition: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A worker on a fresh socket, and the exit of its process. */
async function startWorker(args: string[] = []): Promise<{ socket: string; child: ChildProcess; exited: Promise<number | null>; log: () => string }> {
  const folder = tempDir("bsw-");
  const socket = join(folder, "w.sock");
  const child = spawn(process.execPath, [STEP_BIN, "worker", "--socket", socket, ...args], { cwd: folder, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let stderr = "";
  let stdout = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  await waitFor(() => existsSync(socket) || child.exitCode !== null, `the worker to listen on ${socket}`);
  if (!existsSync(socket)) throw new Error(`the worker exited: ${stderr}`);
  return { socket, child, exited, log: () => stdout };
}

interface Frames {
  hello?: { pid: number; protocol: number };
  out: string;
  err: string;
  exit?: number;
  ended: boolean;
}

/** A connection that collects the frames it receives. */
function open(socket: string): Promise<{ conn: Socket; frames: Frames; send(value: unknown): void; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const frames: Frames = { out: "", err: "", ended: false };
    const conn = connect(socket);
    let buffered = "";
    let closedResolve: () => void;
    const closed = new Promise<void>((r) => (closedResolve = r));
    conn.setEncoding("utf8");
    conn.on("data", (chunk: string) => {
      buffered += chunk;
      for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
        const frame = JSON.parse(buffered.slice(0, nl)) as { hello?: Frames["hello"]; o?: string; e?: string; exit?: number };
        buffered = buffered.slice(nl + 1);
        if (frame.hello) frames.hello = frame.hello;
        if (frame.o !== undefined) frames.out += frame.o;
        if (frame.e !== undefined) frames.err += frame.e;
        if (frame.exit !== undefined) frames.exit = frame.exit;
      }
    });
    conn.on("close", () => {
      frames.ended = true;
      closedResolve();
    });
    conn.on("error", () => undefined);
    conn.once("connect", () => resolve({ conn, frames, send: (v) => conn.write(JSON.stringify(v) + "\n"), closed }));
    conn.once("error", reject);
  });
}

const events = (f: Frames): StepEvent[] =>
  f.out
    .split("\n")
    .filter((l) => l.startsWith(EVENT_PREFIX))
    .map((l) => JSON.parse(l.slice(EVENT_PREFIX.length)) as StepEvent);

const request = (asset: string, env: Record<string, string>, storage: string) => ({
  argv: ["run", "--manifest", manifestPath, "--asset", asset, "--run-id", "r-server"],
  env: { PATH: process.env.PATH ?? "", BATON_STORAGE: storage, S_TOKEN: TOKEN, ...env },
  cwd: dir,
  secrets: [TOKEN],
});

describe("baton-step worker", () => {
  it("answers hello with its pid on a 0600 socket, then streams one step's output and its exit code", async () => {
    const { socket, child } = await startWorker();
    expect(statSync(socket).mode & 0o777).toBe(0o600);
    const storage = join(tempDir("bsw-store-"), "s");
    const first = await open(socket);
    await waitFor(() => first.frames.hello !== undefined, "hello");
    expect(first.frames.hello).toEqual({ pid: child.pid, protocol: 1 });
    first.send(request("prints", { S_ONLY: "first" }, storage));
    await first.closed;
    expect(first.frames.exit).toBe(0);
    expect(first.frames.out).toContain(`token=*** only=first cwd=${dir}`);
    expect(first.frames.out).not.toContain(TOKEN);
    expect(first.frames.err).toBe("err line\n");
    expect(events(first.frames).map((e) => e.type)).toEqual(["step_start", "asset_start", "materialization", "step_end"]);
    // The second step: the same process, none of the first step's environment.
    const second = await open(socket);
    second.send(request("prints", {}, storage));
    await second.closed;
    expect(second.frames.exit).toBe(0);
    expect(second.frames.hello?.pid).toBe(child.pid);
    expect(second.frames.out).toContain("only=unset");
  });

  it("prints from an interval an earlier step left running go to the worker's log, redacted, not into the next step", async () => {
    const { socket, log } = await startWorker();
    const storage = join(tempDir("bsw-store-"), "s");
    const first = await open(socket);
    first.send(request("lingers", {}, storage));
    await first.closed;
    expect(first.frames.exit).toBe(0);
    const second = await open(socket);
    second.send(request("waits_a_bit", {}, storage));
    await second.closed;
    expect(second.frames.exit).toBe(0);
    await waitFor(() => log().includes("late from lingers"), "the late print in the worker's log");
    expect(log()).toContain("late from lingers token=***");
    // (While its own step still runs, the interval prints into that step, as in a one-off process.)
    expect(second.frames.out).not.toContain("late from lingers");
  });

  it("a malformed request is reported with exit 3 and the worker serves the next one", async () => {
    const { socket } = await startWorker();
    const bad = await open(socket);
    bad.send({ argv: "run" });
    await bad.closed;
    expect(bad.frames.exit).toBe(3);
    expect(bad.frames.err).toContain("malformed step request");
    const good = await open(socket);
    good.send(request("prints", {}, join(tempDir("bsw-store-"), "s")));
    await good.closed;
    expect(good.frames.exit).toBe(0);
  });

  it("one step at a time: a second connection during a step is closed without a hello", async () => {
    const { socket } = await startWorker();
    const work = tempDir("bsw-sleep-");
    const env = { S_MARKER: join(work, "marker"), S_RELEASE: join(work, "release") };
    const busy = await open(socket);
    busy.send(request("sleeper", env, join(work, "s")));
    await waitFor(() => existsSync(env.S_MARKER), "the sleeper to start");
    const extra = await open(socket);
    await extra.closed;
    expect(extra.frames.hello).toBeUndefined();
    writeFileSync(env.S_RELEASE, "go");
    await busy.closed;
    expect(busy.frames.exit).toBe(0);
  });

  it("a client that goes away mid-step takes the worker with it, and nothing is committed", async () => {
    const { socket, exited } = await startWorker();
    const work = tempDir("bsw-orphan-");
    const storage = join(work, "s");
    const env = { S_MARKER: join(work, "marker"), S_RELEASE: join(work, "release") };
    const client = await open(socket);
    client.send(request("sleeper", env, storage));
    await waitFor(() => existsSync(env.S_MARKER), "the sleeper to start");
    client.conn.destroy();
    await exited;
    writeFileSync(env.S_RELEASE, "go");
    expect(existsSync(socket)).toBe(false);
    const files = existsSync(join(storage, "sleeper")) ? readdirSync(join(storage, "sleeper"), { recursive: true }).filter((f) => String(f).includes(".")) : [];
    expect(files).toEqual([]);
  });

  it("a cancel frame fails the open asset as cancelled, reports 143, and the worker exits", async () => {
    const { socket, exited } = await startWorker();
    const work = tempDir("bsw-cancel-");
    const env = { S_MARKER: join(work, "marker"), S_RELEASE: join(work, "release") };
    const client = await open(socket);
    client.send(request("sleeper", env, join(work, "s")));
    await waitFor(() => existsSync(env.S_MARKER), "the sleeper to start");
    client.send({ signal: "SIGTERM" });
    await client.closed;
    expect(client.frames.exit).toBe(143);
    const failure = events(client.frames).find((e) => e.type === "asset_failure");
    expect(failure).toMatchObject({ asset: "sleeper", error: { name: "StepCancelled" } });
    expect(await exited).toBe(143);
    expect(existsSync(socket)).toBe(false);
  });

  it("idles out after --idle-seconds and removes its socket", async () => {
    const { socket, exited } = await startWorker(["--idle-seconds", "1"]);
    expect(await exited).toBe(0);
    expect(existsSync(socket)).toBe(false);
  });
});
