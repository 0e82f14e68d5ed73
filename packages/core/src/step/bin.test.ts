import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { loadDefinitions } from "../load.js";
import { manifestToJson, toManifest } from "../manifest/build.js";
import type { Manifest } from "../manifest/types.js";
import { moduleHashOf } from "../manifest/hash.js";
import { LocalIOStore } from "../io/store.js";
import { EVENT_PREFIX } from "./protocol.js";
import type { StepEvent } from "./events.js";
import { cleanupTempDirs, tempDir } from "../__tests__/helpers.js";

// These tests start real Node and Python processes: the core default (30 s) is short on a loaded 2-core machine.
vi.setConfig({ testTimeout: 180_000 });

/*
 * The compiled `baton-step` in a child process, against a small definitions module whose assets
 * misbehave the ways issue 10 lists: a promise that never settles, process.exit(0) in compute, a
 * resource teardown that throws a secret, prints of a secret, deterministic and transient errors,
 * and a SIGTERM while a compute runs.
 */
const CORE = fileURLToPath(new URL("../..", import.meta.url));
const STEP_BIN = join(CORE, "dist", "step", "bin.js");
const TOKEN = "CANARY-bin-7f3a9";

const DEFS = `
import pl from "nodejs-polars";
import { existsSync, writeFileSync } from "node:fs";
import { asset, assetCheck, assetGroup, dailyPartitions, definitions, env, resource, secret, sensor } from "@baton/core";

const frame = () => pl.DataFrame({ x: [1, 2] });
const checkSource = asset({ key: "check_source", compute: frame });
const checkTarget = asset({ key: "check_target", compute: frame });
const sameRows = assetCheck({ name: "same_rows", asset: checkTarget, inputs: { source: checkSource }, check: (t, { source }) => ({ passed: t.height === source.height, metadata: { rows: source.height } }) });
const fewerThanTwo = assetCheck({ name: "fewer_than_two", asset: checkTarget, check: (t) => t.height < 2 });
const vault = resource({ config: { token: secret("BIN_TOKEN") }, create: ({ token }) => ({ token }) });
const leaky = resource({
  config: { token: secret("BIN_TOKEN") },
  create: ({ token }) => ({ token }),
  teardown: (c) => { throw new Error("teardown: could not close session for token=" + c.token); },
});
const unset = resource({ config: { url: env("BIN_NEVER_SET") }, create: ({ url }) => url });
// An asset group as the unchanged adapters run it: one asset per baton-step, execute called with that one key.
const grouped = assetGroup({
  name: "bin_group",
  specs: [{ key: "g_one" }, { key: "g_two", deps: ["g_one"], checks: [{ name: "g_check" }] }, { key: "g_broken" }],
  async execute(ctx) {
    const out = { materializations: [], checks: [], failures: [] };
    for (const key of ctx.selected) {
      const id = key.join("/");
      if (id === "g_broken") {
        out.failures.push({ key, error: new Error("g_broken: the model failed") });
        continue;
      }
      if (id === "g_two") {
        pl.readParquet(await ctx.inputFile("g_one")).writeParquet(ctx.outputFile(key));
        out.checks.push({ asset: key, name: "g_check", passed: false });
      } else frame().writeParquet(ctx.outputFile(key));
      out.materializations.push({ key });
    }
    return out;
  },
});

export default definitions({
  assets: [
    grouped,
    asset({ key: "never_settles", compute: () => new Promise(() => {}) }),
    asset({ key: "exits_early", compute: () => process.exit(0) }),
    asset({ key: "fine", compute: frame }),
    asset({ key: "spins", timeoutSeconds: 0.5, partitions: dailyPartitions({ start: "2024-01-01" }), compute: () => { for (;;) {} } }),
    asset({ key: "waits", timeoutSeconds: 0.5, compute: () => new Promise(() => {}) }),
    asset({
      key: "checked",
      compute: frame,
      checks: [
        { name: "has_rows", check: (df) => df.height > 0 },
        { name: "too_many", check: (df) => df.height < 2 },
      ],
    }),
    asset({ key: "after_fine", deps: ["fine"], compute: () => new Promise(() => {}) }),
    asset({
      key: "prints",
      resources: ["vault"],
      compute: (_i, { resources }) => {
        console.log("console.log token=" + resources.vault.token);
        console.error("console.error token=" + resources.vault.token);
        process.stdout.write("stdout.write token=" + resources.vault.token + "\\n");
        process.stderr.write(Buffer.from("stderr buffer token=" + resources.vault.token + "\\n"));
        return frame();
      },
    }),
    asset({ key: "teardown_throws", resources: ["leaky"], compute: frame }),
    asset({
      key: "check_metadata",
      resources: ["vault"],
      compute: frame,
      checks: [{ name: "meta", severity: "warn", check: (_df, { resources }) => ({ passed: false, description: "saw " + resources.vault.token, metadata: { token: resources.vault.token, nested: { list: ["a", "x" + resources.vault.token] }, n: 1 } }) }],
    }),
    asset({ key: "needs_env", resources: ["unset"], retry: { maxRetries: 2 }, compute: frame }),
    asset({ key: "wrong_type", compute: () => 42 }),
    asset({ key: "daily", partitions: dailyPartitions({ start: "2024-01-01" }), compute: frame }),
    asset({ key: "throws", compute: () => { throw new Error("boom"); } }),
    asset({
      key: "crashes",
      resources: ["vault"],
      compute: ({}, { resources }) => new Promise(() => setTimeout(() => { throw new Error("crash with token=" + resources.vault.token); }, 10)),
    }),
    asset({
      key: "sleeper",
      compute: async () => {
        writeFileSync(process.env.BIN_MARKER, "started");
        while (!existsSync(process.env.BIN_RELEASE)) await new Promise((r) => setTimeout(r, 20));
        return frame();
      },
    }),
  ],
  resources: { vault, leaky, unset },
  sensors: [
    sensor({
      name: "logs_then_throws",
      selection: "fine",
      resources: ["vault"],
      evaluate: ({ resources, log }) => {
        log.info("checking with token=" + resources.vault.token);
        log.warning("the endpoint is slow");
        throw new Error("the endpoint refused the request");
      },
    }),
    sensor({
      name: "secret_sensor",
      selection: "fine",
      resources: ["vault"],
      evaluate: ({ resources }) => ({ skip: "nothing new for " + resources.vault.token, cursor: "seen-" + resources.vault.token }),
    }),
    sensor({
      name: "secret_requests",
      selection: "fine",
      resources: ["vault"],
      evaluate: ({ resources }) => ({ runRequests: [{ selection: "fine", runKey: "k-" + resources.vault.token, tags: { t: resources.vault.token } }] }),
    }),
  ],
  checks: [sameRows, fewerThanTwo],
});
`;

let dir: string;
let manifestPath: string;
let storage: string;

beforeAll(async () => {
  if (!existsSync(STEP_BIN)) throw new Error("these tests run the built baton-step: run pnpm --filter @baton/core build first");
  dir = tempDir("baton-step-bin-");
  storage = join(dir, "storage");
  mkdirSync(join(dir, "node_modules", "@baton"), { recursive: true });
  symlinkSync(CORE, join(dir, "node_modules", "@baton", "core"), "dir");
  symlinkSync(join(CORE, "node_modules", "nodejs-polars"), join(dir, "node_modules", "nodejs-polars"), "dir");
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "bin-fixture", private: true, type: "module" }));
  writeFileSync(join(dir, "defs.mjs"), DEFS);
  writeFileSync(join(dir, "import_fails.mjs"), `throw new Error("cannot import: token=" + process.env.BIN_TOKEN);\n`);
  const defs = await loadDefinitions(join(dir, "defs.mjs"));
  manifestPath = join(dir, "manifest.json");
  const manifest = toManifest(defs, { module: join(dir, "defs.mjs"), manifestDir: dir, stepEntry: STEP_BIN });
  writeFileSync(manifestPath, manifestToJson(manifest));
  const importFails = { module: "import_fails.mjs", moduleHash: moduleHashOf(readFileSync(join(dir, "import_fails.mjs"))) };
  writeFileSync(join(dir, "import_fails.json"), manifestToJson({ ...manifest, runtime: { ...manifest.runtime, ...importFails } }));
});

afterAll(cleanupTempDirs);

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  events: StepEvent[];
}

/** Runs baton-step to its end; `whenStarted` runs once the child's output satisfies `started`. */
function step(args: string[], options: { env?: Record<string, string>; started?: () => boolean; whenStarted?: (pid: number) => void } = {}): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [STEP_BIN, ...args], {
      cwd: dir,
      env: { ...process.env, BATON_STORAGE: storage, BIN_TOKEN: TOKEN, ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    // Generous: a loaded 2-core machine can take seconds to start Node and load polars.
    const deadline = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`baton-step ${args.join(" ")} did not exit within 120 s; stdout so far:\n${stdout}\nstderr:\n${stderr}`));
    }, 120_000);
    let poll: NodeJS.Timeout | undefined;
    if (options.started && options.whenStarted) {
      poll = setInterval(() => {
        if (options.started!()) {
          clearInterval(poll);
          options.whenStarted!(child.pid!);
        }
      }, 20);
    }
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(deadline);
      if (poll) clearInterval(poll);
      const events = stdout
        .split("\n")
        .filter((l) => l.startsWith(EVENT_PREFIX))
        .map((l) => JSON.parse(l.slice(EVENT_PREFIX.length)) as StepEvent);
      resolve({ code, signal, stdout, stderr, events });
    });
  });
}

const run = (assets: string[], extra: string[] = [], options: Parameters<typeof step>[1] = {}) =>
  step(["run", "--manifest", manifestPath, ...assets.flatMap((a) => ["--asset", a]), "--run-id", "r-bin", ...extra], options);
const ofType = <T extends StepEvent["type"]>(o: Outcome, type: T) => o.events.filter((e): e is Extract<StepEvent, { type: T }> => e.type === type);

describe("baton-step never exits 0 without step_end success", () => {
  it("a compute whose promise never settles: failure for the asset, step_end failure, exit 1", async () => {
    const o = await run(["never_settles"]);
    expect(o.code).toBe(1);
    const [f] = ofType(o, "asset_failure");
    expect(f).toMatchObject({ asset: "never_settles", error: { retryable: true } });
    expect(f!.error.message).toContain("the Node step ended before it finished: no result for never_settles");
    expect(o.events.at(-1)).toMatchObject({ type: "step_end", status: "failure", retryable: true });
  });

  it("process.exit(0) in compute: failure events written on the way out, exit 1", async () => {
    const o = await run(["exits_early"]);
    expect(o.code).toBe(1);
    expect(ofType(o, "asset_failure")).toMatchObject([{ asset: "exits_early", error: { retryable: true } }]);
    expect(ofType(o, "asset_failure")[0]!.error.message).toContain("process.exit()");
    expect(o.events.at(-1)).toMatchObject({ type: "step_end", status: "failure", retryable: true });
  });

  it("names only the assets without a result when an earlier one materialized", async () => {
    const o = await run(["fine", "after_fine"]);
    expect(o.code).toBe(1);
    expect(ofType(o, "materialization").map((m) => m.asset)).toEqual(["fine"]);
    expect(ofType(o, "asset_failure").map((f) => f.asset)).toEqual(["after_fine"]);
  });
});

describe("baton-step: an asset group, one asset per step (the adapters' path)", () => {
  it("each step runs execute for its one asset: records, the group's check verdict (CHECK_FAILED, 3), a failure (1)", async () => {
    const one = await run(["g_one"]);
    expect(one.code).toBe(0);
    expect(ofType(one, "materialization").map((m) => m.asset)).toEqual(["g_one"]);
    const two = await run(["g_two"]);
    expect(ofType(two, "materialization").map((m) => m.asset)).toEqual(["g_two"]);
    expect(ofType(two, "check")).toMatchObject([{ asset: "g_two", check: "g_check", passed: false, severity: "error" }]);
    expect(ofType(two, "asset_failure")[0]).toMatchObject({ asset: "g_two", error: { code: "CHECK_FAILED" } });
    expect(two.code).toBe(3);
    expect((await new LocalIOStore(storage).read(["g_two"], undefined)).frame.height).toBe(2);
    const broken = await run(["g_broken"]);
    expect(broken.code).toBe(1);
    expect(ofType(broken, "asset_failure")[0]).toMatchObject({ asset: "g_broken", error: { message: "g_broken: the model failed" } });
  });
});

describe("baton-step: timeoutSeconds (issue 12)", () => {
  it("a timed compute that blocks the event loop: the watchdog writes its TIMEOUT failure and step_end, then SIGKILL (137)", async () => {
    const o = await run(["fine", "spins"], ["--partition", "2024-01-02"]);
    expect(o.signal).toBe("SIGKILL");
    expect(ofType(o, "materialization").map((m) => m.asset)).toEqual(["fine"]);
    const [f] = ofType(o, "asset_failure");
    expect(f).toMatchObject({ asset: "spins", partitionKey: "2024-01-02", error: { name: "BatonError", code: "TIMEOUT", retryable: true } });
    expect(f!.error.message).toContain('asset "spins": timed out after 0.5 s (timeoutSeconds: 0.5); its compute blocked the event loop');
    expect(o.events.at(-1)).toMatchObject({ type: "step_end", status: "failure", retryable: true, error: { code: "TIMEOUT" } });
    expect(o.stderr).toContain('baton: asset "spins" [2024-01-02] timed out after 0.5 s (timeoutSeconds: 0.5); its compute blocked the event loop, so the process was stopped');
    expect(await new LocalIOStore(storage).storedPartitions(["spins"])).toEqual([]);
  });

  it("a timed compute that never settles fails with TIMEOUT at its deadline: step_end failure, exit 1 (retryable)", async () => {
    const o = await run(["waits"]);
    expect(o.code).toBe(1);
    expect(ofType(o, "asset_failure")).toMatchObject([{ asset: "waits", error: { code: "TIMEOUT", retryable: true } }]);
    expect(ofType(o, "asset_failure")[0]!.error.message).toContain("timed out after 0.5 s (timeoutSeconds: 0.5)");
    expect(o.events.at(-1)).toMatchObject({ type: "step_end", status: "failure", retryable: true });
  });
});

describe("baton-step redacts every known secret", () => {
  it("in an uncaught exception from user code: the asset fails with it, redacted, exit 1", async () => {
    const o = await run(["crashes"]);
    expect(o.stdout + o.stderr).not.toContain(TOKEN);
    expect(o.code).toBe(1);
    const [f] = ofType(o, "asset_failure");
    expect(f).toMatchObject({ asset: "crashes", error: { retryable: true } });
    expect(f!.error.message).toContain("crash with token=***");
    expect(o.events.at(-1)).toMatchObject({ type: "step_end", status: "failure", retryable: true });
  });

  it("in what the asset prints through console.* and process.stdout/stderr.write", async () => {
    const o = await run(["prints"]);
    expect(o.code).toBe(0);
    expect(o.stdout + o.stderr).not.toContain(TOKEN);
    expect(o.stdout).toContain("console.log token=***");
    expect(o.stdout).toContain("stdout.write token=***");
    expect(o.stderr).toContain("console.error token=***");
    expect(o.stderr).toContain("stderr buffer token=***");
  });

  it("in a teardown error after the output was committed: materialized, then the step fails, transient", async () => {
    const o = await run(["teardown_throws"]);
    expect(o.stdout + o.stderr).not.toContain(TOKEN);
    expect(o.code).toBe(1);
    expect(ofType(o, "materialization").map((m) => m.asset)).toEqual(["teardown_throws"]);
    const end = ofType(o, "step_end")[0]!;
    expect(end).toMatchObject({ status: "failure", retryable: true });
    expect(end.error?.message).toContain("token=***");
    expect(end.error?.message).toContain('resource "leaky"');
  });

  it("in check metadata and descriptions, deep", async () => {
    const o = await run(["check_metadata"]);
    expect(o.code).toBe(0);
    expect(o.stdout + o.stderr).not.toContain(TOKEN);
    expect(ofType(o, "check")[0]).toMatchObject({ description: "saw ***", metadata: { token: "***", nested: { list: ["a", "x***"] }, n: 1 } });
  });

  it("in an import error", async () => {
    const o = await step(["run", "--manifest", join(dir, "import_fails.json"), "--asset", "fine"]);
    expect(o.stdout + o.stderr).not.toContain(TOKEN);
    expect(o.code).toBe(1);
  });

  it("in sensor skip reasons, cursors and run requests", async () => {
    const skip = await step(["sensor", "--manifest", manifestPath, "--name", "secret_sensor"]);
    expect(skip.code).toBe(0);
    expect(skip.stdout + skip.stderr).not.toContain(TOKEN);
    expect(skip.events[0]).toMatchObject({ type: "tick", result: { skipReason: "nothing new for ***", cursor: "seen-***" } });
    const req = await step(["sensor", "--manifest", manifestPath, "--name", "secret_requests"]);
    expect(req.stdout + req.stderr).not.toContain(TOKEN);
    expect(req.events[0]).toMatchObject({ type: "tick", result: { runRequests: [{ runKey: "k-***", tags: { t: "***" } }] } });
  });
});

describe("baton-step check (issue 12; CHECKS-CONTRACT.md §3)", () => {
  it("runs the named checks against the stored output: check events, no materialization; a failed error check exits 3 (CHECK_FAILED) after reporting", async () => {
    const made = await run(["checked"]);
    expect(made.code).toBe(3); // too_many fails the materialization (CHECK_FAILED is deterministic)
    const o = await step(["check", "--manifest", manifestPath, "--asset", "checked", "--check", "too_many", "--check", "has_rows", "--run-id", "r-check"]);
    expect(o.code).toBe(3);
    expect(o.events.map((e) => e.type)).toEqual(["step_start", "check", "check", "asset_failure", "step_end"]);
    expect(ofType(o, "check")).toMatchObject([
      { asset: "checked", check: "has_rows", passed: true, partitionKey: null },
      { asset: "checked", check: "too_many", passed: false, partitionKey: null },
    ]);
    expect(ofType(o, "asset_failure")[0]).toMatchObject({ asset: "checked", error: { code: "CHECK_FAILED", retryable: false } });
    expect(o.events.at(-1)).toMatchObject({ type: "step_end", status: "failure", retryable: false });
    const passing = await step(["check", "--manifest", manifestPath, "--asset", "checked", "--check", "has_rows", "--run-id", "r-check"]);
    expect(passing.code).toBe(0);
    expect(passing.events.at(-1)).toMatchObject({ type: "step_end", status: "success" });
    const missing = await step(["check", "--manifest", manifestPath, "--asset", "daily", "--partition", "2024-05-05", "--run-id", "r-check"]);
    expect(missing.code).toBe(1);
    expect(ofType(missing, "asset_failure")[0]!.error.message).toContain("materialize it first");
  });

  it("a standalone check runs only in a check step, with its inputs loaded from the store", async () => {
    const made = await run(["check_source", "check_target"]);
    expect(made.code).toBe(0);
    expect(ofType(made, "check")).toEqual([]); // never inside its target's materialization
    const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as Manifest;
    expect(manifest.assets.find((a) => a.id === "check_target")!.checks).toEqual([
      { name: "same_rows", description: null, severity: "error", standalone: true, deps: [{ id: "check_source", key: ["check_source"], input: "source", partitionMapping: null }] },
      { name: "fewer_than_two", description: null, severity: "error", standalone: true, deps: [] },
    ]);
    const o = await step(["check", "--manifest", manifestPath, "--asset", "check_target", "--check", "same_rows", "--run-id", "r-check"]);
    expect(o.code).toBe(0);
    expect(ofType(o, "check")).toMatchObject([{ asset: "check_target", check: "same_rows", passed: true, metadata: { rows: 2 } }]);
    const failing = await step(["check", "--manifest", manifestPath, "--asset", "check_target", "--run-id", "r-check"]);
    expect(failing.code).toBe(3);
    expect(ofType(failing, "check").map((c) => [c.check, c.passed])).toEqual([
      ["same_rows", true],
      ["fewer_than_two", false],
    ]);
    expect(ofType(failing, "asset_failure")[0]!.error).toMatchObject({ code: "CHECK_FAILED" });
  });
});

describe("baton-step: sensor tick logs (issue 12)", () => {
  it("writes each log call at once as a redacted log event line; the lines stay when the sensor then throws", async () => {
    const o = await step(["sensor", "--manifest", manifestPath, "--name", "logs_then_throws"]);
    expect(o.code).toBe(1);
    expect(o.stdout + o.stderr).not.toContain(TOKEN);
    expect(o.events.slice(0, 2)).toEqual([
      { type: "log", level: "info", message: "checking with token=***", asset: null },
      { type: "log", level: "warning", message: "the endpoint is slow", asset: null },
    ]);
    expect(o.events.some((e) => (e.type as string) === "tick")).toBe(false);
    expect(o.stderr).toContain("the endpoint refused the request");
  });
});

describe("baton-step exit codes: 0 success, 1 transient, 3 deterministic", () => {
  it("a thrown error is transient (1)", async () => {
    const o = await run(["throws"]);
    expect(o.code).toBe(1);
    expect(ofType(o, "asset_failure")[0]).toMatchObject({ asset: "throws", error: { message: "boom", retryable: true } });
    expect(o.events.at(-1)).toMatchObject({ type: "step_end", status: "failure", retryable: true });
  });

  it("a missing variable and a wrong output type are deterministic (3)", async () => {
    for (const id of ["needs_env", "wrong_type"]) {
      const o = await run([id]);
      expect(o.code, id).toBe(3);
      expect(ofType(o, "asset_failure")[0]!.error.retryable, id).toBe(false);
      expect(o.events.at(-1), id).toMatchObject({ type: "step_end", status: "failure", retryable: false });
    }
  });

  it("a step mixing both is transient", async () => {
    const o = await run(["throws", "wrong_type"]);
    expect(o.code).toBe(1);
    expect(o.events.at(-1)).toMatchObject({ type: "step_end", status: "failure", retryable: true });
  });

  it("an invalid partition key, an unknown asset and a bad manifest are deterministic (3)", async () => {
    const key = await run(["daily"], ["--partition", "yesterday"]);
    expect(key.code).toBe(3);
    expect(ofType(key, "asset_failure")[0]).toMatchObject({ asset: "daily", error: { code: "UNKNOWN_PARTITION", retryable: false } });
    const unknown = await run(["no_such_asset"]);
    expect(unknown.code).toBe(3);
    expect(unknown.events[0]).toMatchObject({ type: "asset_failure", asset: "", error: { code: "UNKNOWN_SELECTION", retryable: false } });
    const broken = join(dir, "broken.json");
    writeFileSync(broken, JSON.stringify({ manifestVersion: 99 }));
    const bad = await step(["run", "--manifest", broken, "--asset", "fine"]);
    expect(bad.code).toBe(3);
    expect(bad.stderr).toContain("manifest version 99");
    const usage = await step(["frobnicate", "--manifest", manifestPath]);
    expect(usage.code).toBe(3);
  });
});

describe("baton-step on SIGTERM", () => {
  it("stops at once, reports the asset cancelled, exits 143 and commits nothing afterwards", async () => {
    const marker = join(dir, "sleeper-started");
    const release = join(dir, "sleeper-release");
    const o = await run(["sleeper"], [], {
      env: { BIN_MARKER: marker, BIN_RELEASE: release },
      started: () => existsSync(marker),
      whenStarted: (pid) => {
        process.kill(pid, "SIGTERM");
        // Let the compute go on: if the step were still running, it would now write.
        writeFileSync(release, "go");
      },
    });
    expect(o.signal).toBeNull();
    expect(o.code).toBe(143);
    expect(ofType(o, "materialization")).toEqual([]);
    expect(ofType(o, "asset_failure")[0]).toMatchObject({ asset: "sleeper" });
    expect(ofType(o, "asset_failure")[0]!.error.message).toContain("cancelled");
    expect(o.events.at(-1)).toMatchObject({ type: "step_end", status: "failure" });
    expect(existsSync(join(new LocalIOStore(storage).dirOf(["sleeper"], undefined), "record.json"))).toBe(false);
    expect(readFileSync(marker, "utf8")).toBe("started");
  });
});

describe("baton_core.run_step (Python) driving the real baton-step", () => {
  const pythonDir = fileURLToPath(new URL("../../python/", import.meta.url));
  const SHIM = `
import json, os, sys
from baton_core import Manifest, run_step, secret_values
m = Manifest.read(os.environ["MANIFEST"], [2], "test")
assets = sys.argv[1:]
keys = sorted({k for a in assets for k in m.asset(a)["resources"]})
seen = []
def on_event(e):
    seen.append(json.dumps(e))
    if e.get("type") == "asset_start":
        print("STARTED", flush=True)
r = run_step(m.step_command("run", [x for a in assets for x in ("--asset", a)] + ["--run-id", "py"]), env=dict(os.environ),
             secrets=secret_values(m, keys, os.environ), on_event=on_event, on_line=lambda s, l: seen.append(l), forward_signals=True)
v = r.verdict(assets)
print("RESULT " + json.dumps({"code": r.exit_code, "ok": v.ok, "retryable": v.retryable, "message": v.message, "missing": v.missing, "cancelled": r.cancelled, "seen": seen}), flush=True)
`;
  function shim(assets: string[], env: Record<string, string> = {}, onStarted?: (pid: number) => void) {
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      const child = spawn("python3", ["-c", SHIM, ...assets], {
        cwd: dir,
        env: { ...process.env, PYTHONPATH: pythonDir, MANIFEST: manifestPath, BATON_NODE: process.execPath, BATON_STORAGE: storage, BIN_TOKEN: TOKEN, ...env },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      let told = false;
      child.stdout.on("data", (d: Buffer) => {
        stdout += d.toString();
        if (!told && onStarted && stdout.includes("STARTED")) {
          told = true;
          onStarted(child.pid!);
        }
      });
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      const deadline = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new Error(`the Python shim did not exit within 120 s; stdout:\n${stdout}\nstderr:\n${stderr}`));
      }, 120_000);
      child.on("close", () => {
        clearTimeout(deadline);
        const m = /RESULT (.*)/.exec(stdout);
        if (!m) reject(new Error(`no result; stdout:\n${stdout}\nstderr:\n${stderr}`));
        else resolve(JSON.parse(m[1]!) as Record<string, unknown>);
      });
    });
  }

  it("a compute that never settles: the verdict fails, names the asset, retryable", async () => {
    const r = await shim(["never_settles"]);
    expect(r).toMatchObject({ code: 1, ok: false, retryable: true, missing: [] });
    expect(r.message).toContain("no result for never_settles");
  });

  it("a teardown error with the secret: redacted before any callback, the verdict fails, the materialization was seen", async () => {
    const r = await shim(["teardown_throws", "prints"]);
    expect(JSON.stringify(r)).not.toContain(TOKEN);
    expect(r).toMatchObject({ code: 1, ok: false, retryable: true });
    expect(r.message).toContain('resource "leaky" teardown failed');
    expect((r.seen as string[]).filter((l) => l.includes('"materialization"'))).toHaveLength(2);
  });

  it("a deterministic failure is not retryable", async () => {
    expect(await shim(["needs_env"])).toMatchObject({ code: 3, ok: false, retryable: false });
  });

  it("SIGTERM to the shim cancels the step: Node stops, nothing is committed, not retryable", { timeout: 240_000 }, async () => {
    const marker = join(dir, "shim-sleeper-started");
    const release = join(dir, "shim-sleeper-release");
    const r = await shim(["sleeper"], { BIN_MARKER: marker, BIN_RELEASE: release }, (pid) => {
      const wait = setInterval(() => {
        if (!existsSync(marker)) return;
        clearInterval(wait);
        process.kill(pid, "SIGTERM");
        writeFileSync(release, "go");
      }, 20);
    });
    expect(r).toMatchObject({ code: 143, ok: false, retryable: false, cancelled: true });
    expect(r.message).toContain("cancelled");
    expect(existsSync(join(new LocalIOStore(storage).dirOf(["sleeper"], undefined), "record.json"))).toBe(false);
  });

  it("SIGKILL of the shim orphans nothing: the step stops once its parent is gone, and commits nothing", { timeout: 240_000 }, async () => {
    const marker = join(dir, "orphan-sleeper-started");
    const release = join(dir, "orphan-sleeper-release");
    let node = 0;
    await shim(["sleeper"], { BIN_MARKER: marker, BIN_RELEASE: release }, (pid) => {
      const wait = setInterval(() => {
        if (!existsSync(marker)) return;
        clearInterval(wait);
        node = childOf(pid);
        process.kill(pid, "SIGKILL");
      }, 20);
    }).catch(() => undefined); // killed: it prints no result
    expect(node, "the Node step's pid").toBeGreaterThan(0);
    await waitUntil(`the Node step (pid ${node}) to stop after its parent was killed`, () => !alive(node), 120_000);
    writeFileSync(release, "go");
    expect(existsSync(join(new LocalIOStore(storage).dirOf(["sleeper"], undefined), "record.json"))).toBe(false);
  });
});

/** The one child process of `pid` (Linux /proc). */
function childOf(pid: number): number {
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  if (children.length !== 1) throw new Error(`expected one child of ${pid}, found ${children.join(", ") || "none"}`);
  return children[0]!;
}

function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

async function waitUntil(what: string, condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
