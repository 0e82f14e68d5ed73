import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { BatonError } from "../errors.js";
import { isExplainedError } from "../is-baton-error.js";
import { loadDefinitions } from "../load.js";
import { materialize } from "../executor/materialize.js";
import type { StepEvent } from "../step/events.js";
import type { IOStore } from "../io/store.js";
import { openStore } from "../io/open.js";
import { manifestToJson, toManifest } from "../manifest/build.js";
import { evaluateScheduleTick, evaluateSensorTick } from "../ticks.js";
import { compileDefinitions, writeManifest } from "./compile.js";
import { findProject } from "./project.js";
import { checksSummary, fmtMs, progressPrinter, summary } from "./progress.js";
import { graphMermaid, graphText } from "./graph-text.js";
import { parseRange } from "./args.js";
import { loadAdapter } from "./adapters.js";
import { runTargetCommand, targetUsage } from "../build/command.js";
import { UsageError } from "../build/options.js";
import { runInit } from "./init.js";
import { startWatchdog } from "../step/watchdog.js";
import { allChecksOf, type Definitions } from "../definitions.js";
import type { Logger } from "../asset.js";

export const USAGE = `baton — run Baton definitions

  baton materialize [--select EXPR] [--partition KEY | --partition-range FIRST...LAST] [--show ASSET] [--json]
  baton check [--select EXPR] [--check NAME…] [--partition KEY | --partition-range FIRST...LAST] [--json]
                                       run checks (inline and standalone) against the stored outputs,
                                       computing and writing nothing; exit 1 when an error check failed
  baton list [--select EXPR] [--json]
  baton graph [--mermaid]
  baton manifest [--out FILE]          compile the definitions and print or write the manifest
  baton schedule tick NAME [--at ISO]  what the schedule would run at that time
  baton sensor tick NAME [--cursor C]  run the sensor once, print its run requests and cursor
  baton validate                       check the definitions and exit
  baton init [DIR]                     scaffold a new Baton project (DIR must be new or empty)
  baton <target> build --out DIR [--storage PATH|URL] [flags]
                                       build a deployable folder for an orchestrator (the installed
                                       @baton/adapter-<target>: dagster, airflow, prefect)
  baton <target> plan [--json]         what that build would produce, writing nothing
  baton <target> <command> --out DIR   build, then run an adapter's command (e.g. baton prefect dev)
  baton <target> --help                the target's flags and commands

  --definitions FILE  definitions module (default: package.json "baton.definitions")
  Selection: key, prefix/*, group:NAME, tag:K=V, +key (upstream), key+ (downstream), comma-separated.
  Storage: BATON_STORAGE (default <project>/.baton/storage).`;

export interface Io {
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  out(text: string): void;
  err(text: string): void;
}

/** Assets of the runs in progress that started and have no result yet (what `bin.ts` names if the process ends early). */
const openRuns = new Set<() => string[]>();
export function unfinishedAssets(): string[] {
  return [...openRuns].flatMap((probe) => probe());
}

/** Tracks which started assets have no result yet; returns the event listener and stops with `done`. */
function trackRun(next: ((e: StepEvent) => void) | undefined): { onEvent: (e: StepEvent) => void; done: () => void } {
  const open = new Map<string, string>(); // label -> asset
  const probe = () => [...open.keys()];
  openRuns.add(probe);
  return {
    onEvent: (e) => {
      if (e.type === "asset_start") open.set(e.partitionKey === null ? e.asset : `${e.asset} [${e.partitionKey}]`, e.asset);
      else if (e.type === "materialization") open.delete(e.partitionKey === null ? e.asset : `${e.asset} [${e.partitionKey}]`);
      else if (e.type === "asset_failure") for (const [label, asset] of open) if (asset === e.asset) open.delete(label);
      next?.(e);
    },
    done: () => void openRuns.delete(probe),
  };
}

/** The CLI as a function, so tests drive it without a child process. Returns the exit code. */
const BUILT_IN = new Set(["materialize", "check", "list", "graph", "manifest", "schedule", "sensor", "validate", "init"]);

const OPTIONS = {
  definitions: { type: "string" },
  select: { type: "string" },
  partition: { type: "string" },
  "partition-range": { type: "string" },
  show: { type: "string" },
  check: { type: "string", multiple: true },
  json: { type: "boolean", default: false },
  mermaid: { type: "boolean", default: false },
  out: { type: "string" },
  at: { type: "string" },
  cursor: { type: "string" },
  help: { type: "boolean", short: "h", default: false },
} as const;

export async function runCli(argv: readonly string[], io: Io): Promise<number> {
  // The command is the first positional; an option's value ("--select customers") is not one.
  const first = parseArgs({ args: [...argv], allowPositionals: true, strict: false, options: OPTIONS }).positionals[0];
  if (first && !BUILT_IN.has(first) && /^[a-z][a-z0-9-]*$/.test(first)) return runAdapter(first, argv, io);
  const { values, positionals } = parseArgs({ args: [...argv], allowPositionals: true, options: OPTIONS });
  const [command, sub, name] = positionals;
  if (values.help || !command) {
    io.out(USAGE);
    return values.help ? 0 : 2;
  }
  // Before any project lookup: init runs in an empty folder and never loads definitions.
  if (command === "init") return runInit(positionals.slice(1), io);
  const project = findProject(io.cwd, values.definitions);
  const defs = await loadDefinitions(project.definitions, project.exportName);
  const json = (v: unknown) => io.out(JSON.stringify(v, null, 2));
  const store = openStore(io.env.BATON_STORAGE, io.env, { defaultRoot: join(project.root, ".baton", "storage") });

  switch (command) {
    case "validate":
      io.out(`✔ ${defs.assets.length} assets, ${Object.keys(defs.resources).length} resources, ${defs.schedules.length} schedules, ${defs.sensors.length} sensors${checkCount(defs)}: valid`);
      return 0;
    case "list": {
      const ids = defs.select(values.select ?? "*");
      if (values.json) json(ids.map((id) => describeAsset(defs, id)));
      else for (const id of ids) io.out(`${id}  ${describeLine(defs, id)}`);
      return 0;
    }
    case "graph":
      io.out(values.mermaid ? graphMermaid(defs) : graphText(defs));
      return 0;
    case "manifest": {
      if (values.out) {
        const path = await writeManifest(project, defs, resolve(io.cwd, values.out));
        io.out(`wrote ${path}`);
      } else {
        const module = await compileDefinitions(project);
        io.out(manifestToJson(toManifest(defs, { module, exportName: project.exportName, manifestDir: io.cwd, projectRoot: project.root })).trimEnd());
      }
      return 0;
    }
    case "check": {
      // Checks alone: nothing computed or written, so no watchdog (a timed asset's checks are bounded by the step).
      const printer = values.json ? undefined : progressPrinter(io.out);
      const result = await materialize(defs, {
        selection: values.select ?? "*",
        checksOnly: true,
        ...(values.check ? { checks: values.check } : {}),
        ...(values.partition ? { partition: values.partition } : {}),
        ...(values["partition-range"] ? { partitionRange: parseRange(values["partition-range"]) } : {}),
        store,
        env: io.env,
        ...(printer ? { onEvent: printer } : {}),
      });
      if (values.json) json(result);
      else io.out(checksSummary(result));
      return result.status === "success" ? 0 : 1;
    }
    case "materialize": {
      const printer = values.json ? undefined : progressPrinter(io.out);
      // A step can fail beyond its assets (a resource's teardown after the output was written): say why.
      const tracked = trackRun(
        printer &&
          ((e) => {
            printer(e);
            if (e.type === "step_end" && e.error) io.out(`✘ step failed: ${e.error.message.split("\n").join("\n    ")}`);
          }),
      );
      // A timed asset whose compute blocks the event loop is stopped by a thread of its own (the process exits 137).
      const selection = values.select ?? "*";
      const watchdog = selectsTimedAsset(defs, selection) ? startWatchdog() : undefined;
      let result;
      try {
        result = await materialize(defs, {
          selection,
          ...(values.partition ? { partition: values.partition } : {}),
          ...(values["partition-range"] ? { partitionRange: parseRange(values["partition-range"]) } : {}),
          store,
          env: io.env,
          onEvent: tracked.onEvent,
          ...(watchdog ? { watchdog } : {}),
        });
      } finally {
        tracked.done();
        await watchdog?.stop();
      }
      if (values.json) json(result);
      else {
        // Several failures: the run's failure is the first in run order, whatever order they finished in.
        const failed = Object.values(result.assets).filter((a) => a.status === "failure").length;
        if (failed > 1 && result.failure) io.out(`✘ first failure in run order: ${result.failure.asset}${result.failure.error ? `  ${result.failure.error.message.split("\n")[0]}` : ""}`);
        io.out(summary(result));
      }
      if (values.show && result.status === "success") await show(defs.asset(values.show).key, values.partition, store, io);
      return result.status === "success" ? 0 : 1;
    }
    case "schedule":
    case "sensor": {
      if (sub !== "tick" || !name) throw new BatonError("CONFIG", `usage: baton ${command} tick NAME`, { hint: USAGE.split("\n").find((l) => l.includes(`baton ${command}`))?.trim() ?? "" });
      const t0 = performance.now();
      const result =
        command === "schedule"
          ? evaluateScheduleTick(defs, name, values.at ? new Date(values.at) : new Date())
          : await evaluateSensorTick(defs, name, { cursor: values.cursor ?? null, env: io.env, log: stderrLogger(io) });
      if (values.json) json(result);
      else {
        if (result.tickTime) io.out(`tick ${result.tickTime}`);
        if (result.skipReason) io.out(`skipped: ${result.skipReason}`);
        for (const r of result.runRequests) io.out(`run ${r.assets.join(", ")}${r.partitionKey ? ` partition=${r.partitionKey}` : ""}${r.runKey ? ` runKey=${r.runKey}` : ""}`);
        if (command === "sensor") io.out(`cursor ${result.cursor ?? "(none)"}  (${fmtMs(performance.now() - t0)})`);
      }
      return 0;
    }
    default:
      io.err(`unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

/** `baton <target> build|plan|<command> …` with the installed @baton/adapter-<target>. */
async function runAdapter(target: string, argv: readonly string[], io: Io): Promise<number> {
  const at = argv.indexOf("--definitions");
  const definitionsPath = at >= 0 ? argv[at + 1] : undefined;
  const args = at >= 0 ? [...argv.slice(0, at), ...argv.slice(at + 2)] : [...argv];
  const project = findProject(io.cwd, definitionsPath);
  const rest = args.slice(args.indexOf(target) + 1);
  const adapter = await loadAdapter(target, project.root);
  try {
    return await runTargetCommand(adapter, rest, { projectRoot: project.root, definitionsFile: project.definitions, exportName: project.exportName }, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`✘ ${e.message}\n\n${targetUsage(adapter)}`);
      return 2;
    }
    // A build that cannot be made is exit 1 with its message and fix; a crash keeps its stack.
    if (!isExplainedError(e)) throw e;
    io.err(formatError(e));
    return 1;
  }
}

/** A sensor's log as `baton sensor tick` shows it: `[level] message` on stderr, at once (EXECUTION-CONTRACT.md §6). */
function stderrLogger(io: Io): Logger {
  const at = (level: string) => (message: string) => io.err(`[${level}] ${message}`);
  return { debug: at("debug"), info: at("info"), warning: at("warning"), error: at("error") };
}

/** Whether the selection holds an asset with timeoutSeconds; a bad selection is materialize's to report. */
function selectsTimedAsset(defs: Definitions, selection: string): boolean {
  try {
    return defs.select(selection).some((id) => defs.asset(id).timeoutSeconds !== undefined);
  } catch {
    return false;
  }
}

async function show(key: readonly string[], partition: string | undefined, store: IOStore, io: Io): Promise<void> {
  const { frame } = await store.read(key, partition);
  io.out(`\n${key.join("/")}${partition ? ` [${partition}]` : ""}:`);
  io.out(frame.head(20).toString());
}

function describeAsset(defs: Definitions, id: string) {
  const a = defs.asset(id);
  // deps: every upstream (data inputs and ordering-only deps), as in the manifest.
  return { id: a.id, group: a.group, partitions: a.partitions ?? null, deps: [...defs.upstream(id)], description: a.description ?? null, checks: checksOf(defs, id) };
}

/** An asset's checks, inline then standalone (`assetCheck()`, with the assets it reads), as `baton list` shows them. */
function checksOf(defs: Definitions, id: string): { name: string; severity: string; standalone: boolean; inputs: string[] }[] {
  return allChecksOf(defs, id).map((c) => ({ name: c.name, severity: c.severity, standalone: c.standalone, inputs: c.inputs.map((i) => i.key.join("/")) }));
}

/** ", 3 checks (1 standalone)" for `baton validate`; nothing without checks. */
function checkCount(defs: Definitions): string {
  const total = defs.assets.reduce((n, a) => n + allChecksOf(defs, a.id).length, 0);
  return total === 0 ? "" : `, ${total} checks (${defs.checks.length} standalone)`;
}

/** "daily from 2024-01-01 to 2024-03-01 (exclusive) in Europe/Paris"; "… (open-ended) in UTC" without an end. */
function describePartitionsLine(p: NonNullable<ReturnType<Definitions["asset"]>["partitions"]>): string {
  if (p.type === "static") return `static ${p.keys.join("|")}`;
  return `${p.grain} from ${p.start}${p.end === undefined ? " (open-ended)" : ` to ${p.end} (exclusive)`} in ${p.timezone}`;
}

function describeLine(defs: Definitions, id: string): string {
  const a = defs.asset(id);
  const parts = [`group=${a.group}`];
  if (a.partitions) parts.push(describePartitionsLine(a.partitions));
  const checks = checksOf(defs, id);
  if (checks.length) parts.push(`checks=${checks.map((c) => (c.standalone ? `${c.name} (standalone${c.inputs.length ? `, reads ${c.inputs.join(", ")}` : ""})` : c.name)).join(", ")}`);
  if (a.description) parts.push(a.description);
  return parts.join("  ");
}

/**
 * Messages for the user: an error that explains itself (a Baton error from any instance of core —
 * tsx loads the user's definitions with their own copy —, a storage failure) prints as it is, without
 * an internal stack; anything else, a bug or a crash, with its stack. `stack` keeps it always (--json).
 */
export function formatError(e: unknown, options: { readonly stack?: boolean } = {}): string {
  if (isExplainedError(e) && !options.stack) return `✘ ${(e as Error).message}`;
  return `✘ ${(e as Error)?.stack ?? String(e)}`;
}
