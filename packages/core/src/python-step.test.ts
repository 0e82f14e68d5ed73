import { execFileSync, spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it, vi } from "vitest";
import { cleanupTempDirs, tempDir } from "./__tests__/helpers.js";

// These tests start real Node and Python processes: the core default (30 s) is short on a loaded 2-core machine.
vi.setConfig({ testTimeout: 180_000 });

/* python/baton_core/step.py: the verdict every adapter applies, redaction, signals, Node's lifetime. */
const pythonDir = fileURLToPath(new URL("../python/", import.meta.url));
const pyEnv = (extra: Record<string, string> = {}) => ({ ...process.env, PYTHONPATH: pythonDir, PYTHONUNBUFFERED: "1", ...extra });

afterAll(cleanupTempDirs);

function py(code: string, input: unknown = null, extra: Record<string, string> = {}): unknown {
  const out = execFileSync("python3", ["-c", code], { input: JSON.stringify(input), encoding: "utf8", env: pyEnv(extra), timeout: 120_000 });
  return JSON.parse(out);
}

/** A stand-in for the Node step: a script run with this Node binary. */
function nodeScript(source: string): string {
  const path = join(tempDir("baton-py-step-"), "step.mjs");
  writeFileSync(path, source);
  return path;
}

const VERDICT = `
import json, sys
from baton_core import StepResult
out = []
for case in json.load(sys.stdin):
    r = StepResult(exit_code=case["exit"], events=case["events"], stderr=case.get("stderr", []), cancelled=case.get("cancelled", False))
    v = r.verdict(case["selected"])
    out.append({"ok": v.ok, "retryable": v.retryable, "message": v.message, "missing": v.missing})
print(json.dumps(out))
`;

const start = (assets: string[], partitionKeys: string[] = []) => ({ type: "step_start", runId: "r", assets, partitionKeys, retryNumber: 0 });
const mat = (asset: string, partitionKey: string | null = null) => ({ type: "materialization", asset, partitionKey, dataVersion: "h", metadata: {} });
const end = (status: string, retryable = false) => ({ type: "step_end", status, retryable, durationMs: 1 });
const failure = (asset: string, message: string, retryable = true) => ({ type: "asset_failure", asset, partitionKey: null, error: { name: "Error", message, stack: null, retryable } });

describe("baton_core StepResult.verdict (Python)", () => {
  it("succeeds only with exit 0, step_end success and a result for every selected asset and partition key", () => {
    const cases = [
      { exit: 0, selected: ["a", "b"], events: [start(["a", "b"]), mat("a"), { type: "asset_skipped", asset: "b", reason: "upstream" }, end("success")] },
      { exit: 0, selected: ["a"], events: [start(["a"]), { type: "asset_start", asset: "a", partitionKey: null }] },
      { exit: 0, selected: ["a", "b"], events: [start(["a", "b"]), mat("a"), end("success")] },
      { exit: 0, selected: ["a"], events: [start(["a"], ["k1", "k2"]), mat("a", "k1"), end("success")] },
      { exit: 0, selected: ["a"], events: [start(["a"], ["k1", "k2"]), mat("a", "k1"), mat("a", "k2"), end("success")] },
      { exit: 0, selected: ["a"], events: [] },
      { exit: 1, selected: ["a"], events: [start(["a"]), mat("a"), end("success")] },
    ];
    const out = py(VERDICT, cases) as { ok: boolean; retryable: boolean; message: string; missing: string[] }[];
    expect(out[0]).toMatchObject({ ok: true, missing: [] });
    expect(out[1]).toMatchObject({ ok: false, retryable: true, missing: ["a"] });
    expect(out[1]!.message).toContain("the Node step ended before it finished: no result for a");
    expect(out[1]!.message).toContain("process.exit()");
    expect(out[2]).toMatchObject({ ok: false, retryable: true, missing: ["b"] });
    expect(out[3]).toMatchObject({ ok: false, missing: ["a"] });
    expect(out[3]!.message).toContain("a [k2]");
    expect(out[4]).toMatchObject({ ok: true });
    expect(out[5]).toMatchObject({ ok: false, missing: ["a"] });
    expect(out[6]).toMatchObject({ ok: false, retryable: true });
  });

  it("reports the first failure in run order, and classifies exit codes and cancellation", () => {
    const cases = [
      { exit: 1, selected: ["x", "y"], events: [start(["y", "x"]), failure("y", "y broke"), failure("x", "x broke"), end("failure", true)] },
      { exit: 3, selected: ["x"], events: [start(["x"]), failure("x", "MISSING_ENV", false), end("failure")] },
      { exit: 127, selected: ["x"], events: [], stderr: ["cannot start node: [Errno 2] (set BATON_NODE to the node binary)"] },
      { exit: 143, selected: ["x"], events: [start(["x"]), failure("x", "cancelled"), end("failure", true)], cancelled: true },
      { exit: 0, selected: ["x"], events: [start(["x"]), mat("x"), end("success")], cancelled: true },
      { exit: 1, selected: ["x"], events: [start(["x"]), mat("x"), { ...end("failure", true), error: { name: "Error", message: 'resource "leaky" teardown failed: boom', stack: null, retryable: true } }] },
      { exit: 137, selected: ["x"], events: [start(["x"])], stderr: ["Killed"] },
    ];
    const out = py(VERDICT, cases) as { ok: boolean; retryable: boolean; message: string; missing: string[] }[];
    expect(out[0]).toMatchObject({ ok: false, retryable: true, missing: [] });
    expect(out[0]!.message).toContain("y broke");
    expect(out[0]!.message).not.toContain("x broke");
    expect(out[1]).toMatchObject({ ok: false, retryable: false });
    expect(out[2]).toMatchObject({ ok: false, retryable: false });
    expect(out[2]!.message).toContain("BATON_NODE");
    expect(out[3]).toMatchObject({ ok: false, retryable: false });
    expect(out[3]!.message).toContain("cancelled");
    expect(out[4]).toMatchObject({ ok: false, retryable: false });
    expect(out[5]).toMatchObject({ ok: false, retryable: true, missing: [] });
    expect(out[5]!.message).toContain('resource "leaky" teardown failed: boom');
    expect(out[6]).toMatchObject({ ok: false, retryable: true, missing: ["x"] });
  });

  it("StepResult.failure is the first failure", () => {
    const out = py(`
import json
from baton_core import StepResult
r = StepResult(exit_code=1, events=[{"type": "asset_failure", "asset": "a", "error": {"message": "first"}}, {"type": "asset_failure", "asset": "b", "error": {"message": "second"}}])
print(json.dumps(r.failure))`);
    expect(out).toBe("first");
  });
});

describe("baton_core run_step (Python) with a Node child", () => {
  const TOKEN = "CANARY-py-7f3a9";

  it("redacts every known secret in lines and events before any callback sees them", () => {
    const script = nodeScript(`
const t = process.env.PY_TOKEN;
console.log("plain " + t);
console.error("err " + t);
console.log("@@baton:event " + JSON.stringify({ type: "log", level: "info", message: "said " + t, asset: "a", nested: { list: [t, 1] } }));
`);
    const out = py(
      `
import json, os, sys
from baton_core import run_step
seen = []
r = run_step([os.environ["NODE"], os.environ["SCRIPT"]], env=dict(os.environ), secrets=[os.environ["PY_TOKEN"], ""],
             on_event=lambda e: seen.append(json.dumps(e)), on_line=lambda s, l: seen.append(s + ":" + l))
print(json.dumps({"seen": seen, "events": r.events, "stderr": r.stderr, "code": r.exit_code}))`,
      null,
      { NODE: process.execPath, SCRIPT: script, PY_TOKEN: TOKEN },
    ) as { seen: string[]; events: unknown[]; stderr: string[]; code: number };
    expect(out.code).toBe(0);
    expect(JSON.stringify(out)).not.toContain(TOKEN);
    expect(out.seen).toContain("stdout:plain ***");
    expect(out.seen).toContain("stderr:err ***");
    expect(out.events).toEqual([{ type: "log", level: "info", message: "said ***", asset: "a", nested: { list: ["***", 1] } }]);
  });

  it("secret_values: the values of the secret fields of the given resources, longest first", () => {
    const manifest = {
      resources: [
        { key: "db", config: [{ field: "url", env: "DB_URL", secret: false }, { field: "password", env: "DB_PASSWORD", secret: true }] },
        { key: "vault", config: [{ field: "token", env: "VAULT_TOKEN", secret: true }, { field: "other", env: "VAULT_UNSET", secret: true }] },
        { key: "unused", config: [{ field: "token", env: "UNUSED_TOKEN", secret: true }] },
      ],
    };
    const out = py(
      `
import json, sys
from baton_core import Manifest, secret_values
m = json.load(sys.stdin)
env = {"DB_URL": "pg://x", "DB_PASSWORD": "pw", "VAULT_TOKEN": "longer-token", "UNUSED_TOKEN": "nope", "VAULT_UNSET": ""}
print(json.dumps([secret_values(m, ["db", "vault"], env), secret_values(Manifest("/tmp/m.json", m), ["vault"], env), secret_values(m, [], env)]))`,
      manifest,
    );
    expect(out).toEqual([["longer-token", "pw"], ["longer-token"], []]);
  });

  it("node missing: exit 127, deterministic, says to set BATON_NODE", () => {
    const out = py(
      `
import json, os
from baton_core import run_step, step_command
r = run_step(step_command("/nowhere/bin.js", "/nowhere/m.json", "run"), env=dict(os.environ))
v = r.verdict(["a"])
print(json.dumps({"code": r.exit_code, "ok": v.ok, "retryable": v.retryable, "message": v.message}))`,
      null,
      { BATON_NODE: "/nonexistent/node-binary" },
    ) as { code: number; ok: boolean; retryable: boolean; message: string };
    expect(out).toMatchObject({ code: 127, ok: false, retryable: false });
    expect(out.message).toContain("BATON_NODE");
  });

  /** Runs a Python script in the background; resolves with its output once it exits. */
  function background(code: string, env: Record<string, string>) {
    const child = spawn("python3", ["-c", code], { env: pyEnv(env), stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on("close", (c, s) => resolve({ code: c, signal: s })));
    const waitFor = async (what: string, test: () => boolean, ms = 120_000) => {
      const deadline = Date.now() + ms;
      while (!test()) {
        if (Date.now() > deadline) throw new Error(`waited ${ms / 1000} s for ${what}; stdout:\n${stdout}\nstderr:\n${stderr}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    };
    return { child, exited, waitFor, out: () => stdout, err: () => stderr };
  }

  /** Running (a zombie left to a PID 1 that does not reap is dead for this purpose). */
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
    } catch {
      return false;
    }
    try {
      return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
    } catch {
      return false;
    }
  };

  const SLEEPY = (onTerm: string) => `
process.on("SIGTERM", () => { ${onTerm} });
console.log("@@baton:event " + JSON.stringify({ type: "step_start", runId: "r", assets: ["a"], partitionKeys: [], retryNumber: 0, pid: process.pid }));
setTimeout(() => {}, 120000);
`;

  const FORWARDING = `
import json, os, signal
from baton_core import run_step
before = signal.getsignal(signal.SIGTERM)
def started(e):
    print("STARTED", e.get("pid"), flush=True)
r = run_step([os.environ["NODE"], os.environ["SCRIPT"]], env=dict(os.environ), on_event=started, forward_signals=True, cancel_grace=float(os.environ["GRACE"]))
v = r.verdict(["a"])
print("RESULT " + json.dumps({"code": r.exit_code, "cancelled": r.cancelled, "ok": v.ok, "retryable": v.retryable, "message": v.message, "restored": signal.getsignal(signal.SIGTERM) == before, "stderr": r.stderr}), flush=True)
`;

  it.each(["SIGTERM", "SIGINT"] as const)("%s to the Python shim is forwarded to Node as SIGTERM; the step counts as cancelled, not retryable", { timeout: 240_000 }, async (sig) => {
    const script = nodeScript(SLEEPY(`console.error("node got SIGTERM"); process.exit(143);`));
    const p = background(FORWARDING, { NODE: process.execPath, SCRIPT: script, GRACE: "30" });
    // The whole line: unbuffered, print() writes "STARTED", the pid and the newline separately.
    await p.waitFor("the Node step to start", () => /STARTED \d+\n/.test(p.out()));
    const pid = Number(/STARTED (\d+)\n/.exec(p.out())![1]);
    p.child.kill(sig);
    await p.exited;
    const result = JSON.parse(/RESULT (.*)/.exec(p.out())![1]!) as Record<string, unknown>;
    expect(result).toMatchObject({ code: 143, cancelled: true, ok: false, retryable: false, restored: true });
    expect(result.message).toContain("cancelled");
    expect(result.stderr).toContain("node got SIGTERM");
    expect(alive(pid)).toBe(false);
  });

  it("a Node step that ignores SIGTERM is killed after the grace period", { timeout: 240_000 }, async () => {
    const script = nodeScript(SLEEPY(`console.error("ignoring SIGTERM");`));
    const p = background(FORWARDING, { NODE: process.execPath, SCRIPT: script, GRACE: "1" });
    await p.waitFor("the Node step to start", () => /STARTED \d+\n/.test(p.out()));
    p.child.kill("SIGTERM");
    await p.exited;
    const result = JSON.parse(/RESULT (.*)/.exec(p.out())![1]!) as Record<string, unknown>;
    expect(result).toMatchObject({ code: -9, cancelled: true, ok: false, retryable: false });
  });
});
