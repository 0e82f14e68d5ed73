import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { evaluateScheduleTick, evaluateSensorTick, loadDefinitions, materialize, openStore, type Definitions, type MaterializeResult, type EvaluatedTick } from "@baton/core";
import { startedMarker } from "./fixtures/control.js";
import type { CheckRequest, HarnessEnvironment, HarnessMaterialization, HarnessRun, HarnessTick, MaterializeRequest, RuntimeHarness } from "./suite/harness.js";
import { DEFAULT_WAIT_MS, waitFor } from "./wait.js";

export interface EmbeddedHarnessOptions {
  /**
   * `cli` (default): every call runs `baton … --json` in a child process, as a user does, so a compute
   * that calls process.exit() or never settles, and a Ctrl-C, behave as they would for the user.
   * `inProcess`: `materialize()` in the test process (faster; cannot show early exit or cancellation).
   */
  readonly mode?: "cli" | "inProcess";
  /** Deadline for one CLI command (default 180 s); the command is killed and the harness says so. */
  readonly commandTimeoutMs?: number;
}

interface CliOutcome {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** The `baton` bin of the installed @baton/core. */
function batonBin(): string {
  const index = fileURLToPath(import.meta.resolve("@baton/core"));
  const bin = join(dirname(index), "cli", "bin.js");
  if (!existsSync(bin)) throw new Error(`the baton CLI is missing at ${bin}; build @baton/core`);
  return bin;
}

/** The JSON document `--json` prints last; compute's own prints may come before it on stdout. */
function lastJson<T>(stdout: string): T | undefined {
  const starts = [...stdout.matchAll(/^\{$/gm)].map((m) => m.index);
  for (const at of starts.reverse()) {
    try {
      return JSON.parse(stdout.slice(at)) as T;
    } catch {
      // a print that looked like the start of the document; try an earlier one
    }
  }
  return undefined;
}

function fromResult(result: MaterializeResult, recordsText: string): HarnessRun {
  const materializations: HarnessMaterialization[] = [];
  const checks: { asset: string; check: string; passed: boolean; partitionKey: string | null }[] = [];
  for (const [asset, a] of Object.entries(result.assets)) {
    // The user metadata (declared, then withMetadata's) and a table output's table, as the CLI's JSON result records them.
    for (const m of a.materializations) {
      const table = m.metadata.table;
      materializations.push({ asset, partitionKey: m.partitionKey, metadata: m.metadata.user, ...(table ? { table: { name: table.name, snapshotId: table.snapshotId } } : {}) });
    }
    for (const c of a.checks) checks.push({ asset, check: c.check, passed: c.passed, partitionKey: c.partitionKey });
  }
  return {
    status: result.status,
    assets: Object.fromEntries(Object.entries(result.assets).map(([id, a]) => [id, { status: a.status, attempts: a.attempts, error: a.error?.message ?? null }])),
    checks,
    materializations,
    recordsText,
  };
}

function fromTick(t: EvaluatedTick, recordsText: string): HarnessTick {
  return { runRequests: t.runRequests, cursor: t.cursor, skipReason: t.skipReason, recordsText };
}

/** A CLI command's run: its `--json` result, or, without one, what the command itself said (its exit status, stderr). */
function runOf(out: CliOutcome, command: string, assets: readonly string[]): HarnessRun {
  const recordsText = `${out.stdout}\n${out.stderr}`;
  const result = lastJson<MaterializeResult>(out.stdout);
  if (result !== undefined) {
    const run = fromResult(result, recordsText);
    // The exit code is part of what the CLI reports: a success document with a failing exit is a failure.
    return out.code === 0 ? run : { ...run, status: "failure" };
  }
  // No result document: the CLI refused the request (exit 1 and a message) or was stopped. Report what
  // the command itself said — its exit status — and no per-asset record beyond the refusal.
  const said = out.stderr.trim() || (out.signal ? `baton ${command} was stopped by ${out.signal}` : `baton ${command} exited ${out.code} without a result`);
  // Its timeout watchdog stopped it (SIGKILL) with one line per timed-out asset: that asset failed
  // saying so; the others have no result, and the run stopped before they had one.
  const timedOut = new Map([...out.stderr.matchAll(/^baton: asset "([^"]+)".* timed out after .*$/gm)].map((m) => [m[1]!, m[0]]));
  const errorOf = (id: string) => timedOut.get(id) ?? (timedOut.size > 0 ? `baton ${command} was stopped (${out.signal ?? out.code}) before ${id} had a result: ${[...timedOut.values()].join("; ")}` : said);
  return {
    status: out.code === 0 ? "success" : "failure",
    assets: out.code === 0 ? {} : Object.fromEntries(assets.map((id) => [id, { status: "failure" as const, attempts: 0, error: errorOf(id) }])),
    checks: [],
    materializations: [],
    recordsText,
  };
}

// process.exit() ends the test process, a promise that never settles never returns, and a synchronous
// spin blocks it (the CLI's watchdog stops only its own process).
const IN_PROCESS_UNSAFE = new Set(["truth/exits_early", "truth/never_settles", "spins"]);

/** The embedded executor as a runtime under test: the reference every adapter is compared with. */
export function embeddedHarness(options: EmbeddedHarnessOptions = {}): RuntimeHarness {
  const mode = options.mode ?? "cli";
  const commandTimeoutMs = options.commandTimeoutMs ?? DEFAULT_WAIT_MS;
  let defs: Definitions | undefined;
  let environment: HarnessEnvironment | undefined;
  let bin: string | undefined;
  const env = () => ({ ...process.env, ...environment!.env });

  /** Run one CLI command to its end; `onStart` may interrupt it (cancellation). */
  const cli = (args: readonly string[], onStart?: (stop: (signal: NodeJS.Signals) => void, exited: () => boolean) => Promise<void>): Promise<CliOutcome> =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [bin!, ...args, "--definitions", environment!.fixtureModule, "--json"], {
        cwd: environment!.workDir,
        env: env(),
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      let done = false;
      child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
      child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new Error(`timed out after ${Math.round(commandTimeoutMs / 1000)} s waiting for \`baton ${args.join(" ")}\` to exit\n${stdout}\n${stderr}`));
      }, commandTimeoutMs);
      child.on("error", (e) => {
        clearTimeout(timer);
        reject(e);
      });
      child.on("close", (code, signal) => {
        done = true;
        clearTimeout(timer);
        resolve({ code, signal, stdout, stderr });
      });
      onStart?.((signal) => child.kill(signal), () => done).catch((e: unknown) => {
        child.kill("SIGKILL");
        reject(e as Error);
      });
    });

  const materializeCli = async (request: MaterializeRequest): Promise<HarnessRun> => {
    const args = ["materialize", "--select", request.assets.join(" ")];
    if (request.partitionKey !== undefined) args.push("--partition", request.partitionKey);
    if (request.partitionRange) args.push("--partition-range", `${request.partitionRange.start}...${request.partitionRange.end}`);
    const target = request.cancelAfterStart;
    const out = await cli(
      args,
      target === undefined
        ? undefined
        : async (stop, exited) => {
            // The user's Ctrl-C once the target's compute is running.
            const marker = startedMarker(environment!, target);
            await waitFor(() => existsSync(marker) || exited(), { what: `${target} to start (${marker})` });
            if (!exited()) stop("SIGINT");
          },
    );
    return runOf(out, "materialize", request.assets);
  };

  /**
   * `baton check --select A --check NAME… [--partition K] --json`. The CLI selects assets and filters checks by
   * name, so requests are grouped by the set of names asked of an asset: no asset runs a same-named check it was
   * not asked for.
   */
  const runChecksCli = async (request: CheckRequest): Promise<HarnessRun> => {
    const names = new Map<string, Set<string>>();
    for (const { asset, check } of request.checks) names.set(asset, (names.get(asset) ?? new Set()).add(check));
    const groups = new Map<string, { assets: string[]; checks: string[] }>();
    for (const [asset, set] of names) {
      const checks = [...set].sort();
      const group = groups.get(checks.join("\n")) ?? { assets: [], checks };
      group.assets.push(asset);
      groups.set(checks.join("\n"), group);
    }
    const runs: HarnessRun[] = [];
    for (const { assets, checks } of groups.values()) {
      const args = ["check", "--select", assets.join(" "), ...checks.flatMap((c) => ["--check", c])];
      if (request.partitionKey !== undefined) args.push("--partition", request.partitionKey);
      runs.push(runOf(await cli(args), "check", assets));
    }
    return {
      status: runs.every((r) => r.status === "success") ? "success" : "failure",
      assets: Object.assign({}, ...runs.map((r) => r.assets)) as HarnessRun["assets"],
      checks: runs.flatMap((r) => r.checks),
      materializations: runs.flatMap((r) => r.materializations),
      recordsText: runs.map((r) => r.recordsText).join("\n"),
    };
  };

  const tickCli = async (args: readonly string[]): Promise<HarnessTick> => {
    const out = await cli(args);
    const tick = lastJson<EvaluatedTick>(out.stdout);
    if (tick === undefined || out.code !== 0) throw new Error(`\`baton ${args.join(" ")}\` failed (exit ${out.code ?? out.signal}):\n${out.stdout}\n${out.stderr}`);
    return fromTick(tick, `${out.stdout}\n${out.stderr}`);
  };

  const materializeInProcess = async (request: MaterializeRequest): Promise<HarnessRun> => {
    if (request.cancelAfterStart !== undefined) throw new Error('the in-process embedded harness cannot cancel a run; use mode: "cli"');
    // process.exit() would end the test process and a promise that never settles would never return.
    const unsafe = request.assets.filter((id) => IN_PROCESS_UNSAFE.has(id));
    if (unsafe.length > 0) throw new Error(`the in-process embedded harness cannot run ${unsafe.join(", ")}; use mode: "cli"`);
    const records: string[] = [];
    try {
      const result = await materialize(defs!, {
        selection: request.assets.join(" "),
        ...(request.partitionKey !== undefined ? { partition: request.partitionKey } : {}),
        ...(request.partitionRange ? { partitionRange: request.partitionRange } : {}),
        store: openStore(environment!.storage, env()),
        env: env(),
        sleep: async () => undefined,
        onEvent: (ev) => records.push(JSON.stringify(ev)),
      });
      return fromResult(result, [...records, JSON.stringify(result)].join("\n"));
    } catch (e) {
      // Invalid requests (an unknown partition key) fail before any asset starts.
      const error = (e as Error).message;
      return {
        status: "failure",
        assets: Object.fromEntries(request.assets.map((id) => [id, { status: "failure" as const, attempts: 0, error }])),
        checks: [],
        materializations: [],
        recordsText: [...records, String((e as Error).stack)].join("\n"),
      };
    }
  };

  return {
    name: "embedded",
    async setup(e) {
      environment = e;
      if (mode === "cli") bin = batonBin();
      else defs = await loadDefinitions(e.fixtureModule, e.exportName);
    },
    materialize: (request) => (mode === "cli" ? materializeCli(request) : materializeInProcess(request)),
    async runChecks(request) {
      if (mode !== "cli") throw new Error('the in-process embedded harness cannot run checks alone; use mode: "cli" (baton check)');
      return runChecksCli(request);
    },
    async scheduleTick(name, at) {
      if (mode === "cli") return tickCli(["schedule", "tick", name, "--at", at.toISOString()]);
      const t = evaluateScheduleTick(defs!, name, at);
      return fromTick(t, JSON.stringify(t));
    },
    async sensorTick(name, cursor) {
      if (mode === "cli") return tickCli(["sensor", "tick", name, ...(cursor === null ? [] : ["--cursor", cursor])]);
      const logged: string[] = [];
      const at = (level: string) => (message: string) => logged.push(`[${level}] ${message}`);
      const t = await evaluateSensorTick(defs!, name, { cursor, env: env(), log: { debug: at("debug"), info: at("info"), warning: at("warning"), error: at("error") } });
      return fromTick(t, [...logged, JSON.stringify(t)].join("\n"));
    },
    async teardown() {
      defs = undefined;
    },
  };
}
