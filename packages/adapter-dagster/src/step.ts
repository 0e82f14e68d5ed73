/**
 * The Node side of a Dagster step: what `baton_dagster.step.run_node_step` launches in a Pipes
 * session. It reads what to run from the Pipes context, runs it with core's step runtime (under
 * core's step guard), and turns every step event into a Pipes message (materializations, checks,
 * logs, the closing exception), with every secret of the code location redacted. It exits 0 on
 * success, 1 for a failure a retry may fix, 3 for a deterministic one, 143 when cancelled.
 */
import { writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { loadDefinitions, storageSecrets, verifyModule, type Manifest, type PartitionKeyRange } from "@baton/core";
import { guardStep, redactDeep, redactorOf, redactProcessOutput, runStep, serializeError, startWatchdog, type SerializedError, type StepEvent, type StepIO } from "@baton/core/step";
import { openDagsterPipes, PipesDefaultMessageWriter, PipesEnvVarParamsLoader, resetPipesContext, toEscapedAssetKey, type PipesContext } from "./pipes/index.js";
import { checkReport, materializationReport, rangeCheckReport, rangeMaterializationReport, type CheckEvent, type MaterializationEvent } from "./reports.js";
import { readStepManifest } from "./versions.js";

/** Pipes extra the Python side sets for range runs, whose Pipes context has no partition fields. */
export const RANGE_EXTRA = "baton/partition_range";
/** Pipes extra of a check-only step (Dagster's "Execute check"): the asset ids whose stored outputs to check. */
export const CHECKS_ONLY_EXTRA = "baton/checks_only";
/** Pipes extra: per selected asset id, the names of its selected checks. */
export const CHECKS_EXTRA = "baton/checks";
/** File the Python side reads when the step fails, to fail the Dagster step with the TypeScript error. */
export const SUMMARY_ENV_VAR = "BATON_DAGSTER_SUMMARY";

/** What the step asks core to run, read from the Pipes context. */
export interface StepRequest {
  readonly assets: string[];
  readonly partitionKey: string | undefined;
  readonly partitionRange: PartitionKeyRange | undefined;
  readonly runId: string;
  readonly retryNumber: number;
  /** No compute and no write: the checks run on the stored outputs (core's check-only step). */
  readonly checksOnly: boolean;
  /** The checks Dagster selected, when not all of the assets' checks; undefined runs them all. */
  readonly checks: string[] | undefined;
}

/** Dagster keys ("raw/orders", escaped) to Baton asset ids, through the manifest. */
export function requestFromPipes(pipes: PipesContext, manifest: Manifest): StepRequest {
  const idByKey = new Map(manifest.assets.map((a) => [toEscapedAssetKey(a.key), a.id]));
  const byId = new Map(manifest.assets.map((a) => [a.id, a]));
  const checkOnly = pipes.extras[CHECKS_ONLY_EXTRA] as string[] | undefined;
  const assets =
    checkOnly ??
    pipes.assetKeys.map((key) => {
      const id = idByKey.get(key);
      if (id === undefined) throw new Error(`Dagster selected asset "${key}", which is not in the Baton manifest; rebuild the project`);
      return id;
    });
  for (const id of assets) if (!byId.has(id)) throw new Error(`Dagster selected asset "${id}", which is not in the Baton manifest; rebuild the project`);
  // Dagster selects checks one by one: pass them on only when some of the assets' inline checks are
  // left out. A check step (checks only) always names its checks: a standalone check runs only there.
  const selected = pipes.extras[CHECKS_EXTRA] as Record<string, string[]> | undefined;
  const inline = (id: string) => byId.get(id)!.checks.filter((c) => c.standalone !== true);
  const all = selected === undefined || (checkOnly === undefined && assets.every((id) => inline(id).every((c) => selected[id]?.includes(c.name))));
  const extra = pipes.extras[RANGE_EXTRA] as PartitionKeyRange | undefined;
  // A backfill's run for one partition is a range of one key (no dagster/partition tag): one key,
  // reported as such, with its own data version.
  const single = extra !== undefined && extra.start === extra.end ? extra.start : undefined;
  const range = single === undefined ? extra : undefined;
  return {
    assets,
    partitionRange: range ? { start: range.start, end: range.end } : undefined,
    partitionKey: single ?? (!range && pipes.isPartitionStep ? pipes.partitionKey : undefined),
    runId: pipes.runId,
    retryNumber: pipes.retryNumber,
    checksOnly: checkOnly !== undefined,
    checks: all ? undefined : [...new Set(assets.flatMap((id) => selected[id] ?? []))].sort(),
  };
}

export interface StepSummary {
  /** In the order the step ran its assets; asset "" is a failure of the step itself (a teardown). */
  readonly failures: { asset: string; partitionKey: string | null; error: SerializedError }[];
  readonly skipped: Record<string, string>;
  readonly materialized: string[];
  /** `step_end` was seen: the step ran to its end (or core's guard closed it). */
  finished: boolean;
  /** False when every failure is deterministic: a retry would fail the same way. */
  retryable: boolean;
}

/** Exit code for a deterministic failure, which Dagster must not retry (CONTRACT-v2). */
export const DETERMINISTIC_EXIT = 3;

/** The values of every secret field of the manifest's resources, and the store's credentials, as set in `env`. */
export function secretValues(manifest: Manifest, env: Readonly<Record<string, string | undefined>>): string[] {
  const resources = manifest.resources.flatMap((r) => r.config.filter((f) => f.secret).map((f) => env[f.env] ?? "")).filter((v) => v.length > 0);
  return [...resources, ...storageSecrets(env)];
}

/** Replaces each secret by `***` in every string of a JSON-like value. */
export function redactor(secrets: readonly string[]): <T>(value: T) => T {
  const text = redactorOf(secrets);
  return <T>(value: T) => (secrets.length === 0 ? value : redactDeep(value, text));
}

/**
 * Forwards step events to Pipes. A single-partition step reports each event as it happens; a
 * range step holds materializations and checks back and reports one per asset at the end,
 * because Dagster accepts one result per asset and check per step and applies it to every
 * partition of the range.
 */
export class PipesReporter {
  readonly summary: StepSummary = { failures: [], skipped: {}, materialized: [], finished: false, retryable: true };
  private readonly materializations = new Map<string, MaterializationEvent[]>();
  private readonly checks = new Map<string, CheckEvent[]>();

  constructor(
    private readonly pipes: PipesContext,
    private readonly manifest: Manifest,
    private readonly isRange: boolean,
    private readonly redact: <T>(value: T) => T = (v) => v,
    /** Called at `step_end`, synchronously (it may run inside an `exit` listener). */
    private readonly onEnd: (summary: StepSummary) => void = () => undefined,
  ) {}

  private keyOf(id: string): string {
    const asset = this.manifest.assets.find((a) => a.id === id);
    return toEscapedAssetKey(asset ? asset.key : id.split("/"));
  }

  private flushed = false;

  /** Every event is redacted here, whatever core already did: nothing reaches Dagster with a secret. */
  readonly onEvent = (event: StepEvent): void => {
    // Once the context is closed (process.exit() in user code: Pipes' exit hook ran first),
    // nothing more can reach Dagster through Pipes; the summary still records every event.
    if (this.pipes.isClosed) {
      this.record(this.redact(event));
      return;
    }
    this.send(this.redact(event));
  };

  /** The summary's part of an event. */
  private record(e: StepEvent): void {
    switch (e.type) {
      case "materialization":
        if (!this.summary.materialized.includes(e.asset)) this.summary.materialized.push(e.asset);
        break;
      case "asset_failure":
        this.summary.failures.push({ asset: e.asset, partitionKey: e.partitionKey, error: e.error });
        break;
      case "asset_skipped":
        this.summary.skipped[e.asset] = e.reason;
        break;
      case "step_end":
        this.summary.finished = true;
        this.summary.retryable = e.status === "success" || e.retryable;
        if (e.error) this.summary.failures.push({ asset: "", partitionKey: null, error: e.error });
        this.onEnd(this.summary);
        break;
      default:
    }
  }

  private send(e: StepEvent): void {
    switch (e.type) {
      case "log":
        this.pipes.log.log(LEVELS[e.level], e.asset ? `${e.asset}: ${e.message}` : e.message);
        break;
      case "asset_start":
        this.pipes.log.debug(`${e.asset}: started${e.partitionKey !== null ? ` [${e.partitionKey}]` : ""}`);
        break;
      case "materialization":
        if (this.isRange) push(this.materializations, e.asset, e);
        else this.pipes.reportAssetMaterialization(materializationReport(this.keyOf(e.asset), e));
        break;
      case "check":
        if (this.isRange) push(this.checks, `${e.asset}\u0000${e.check}`, e);
        else this.pipes.reportAssetCheck(checkReport(this.keyOf(e.asset), e));
        break;
      case "asset_failure":
        this.pipes.log.error(`${e.asset}${e.partitionKey !== null ? ` [${e.partitionKey}]` : ""} failed: ${e.error.name}: ${e.error.message}`);
        break;
      case "asset_skipped":
        this.pipes.log.warning(`${e.asset}: skipped, ${e.reason}`);
        break;
      case "step_end":
        this.flush();
        if (e.error) this.pipes.log.error(`the step failed: ${e.error.name}: ${e.error.message}`);
        break;
      case "step_start":
        break;
    }
    // After the Pipes messages: at step_end, the summary is written and the context closed.
    this.record(e);
  }

  /** Report what a range step held back; only for assets that completed every partition. Once. */
  flush(): void {
    if (this.flushed) return;
    this.flushed = true;
    const failed = new Set(this.summary.failures.map((f) => f.asset));
    for (const [asset, events] of this.materializations) {
      if (!failed.has(asset)) this.pipes.reportAssetMaterialization(rangeMaterializationReport(this.keyOf(asset), events));
    }
    for (const events of this.checks.values()) {
      const asset = events[0]!.asset;
      if (!failed.has(asset)) this.pipes.reportAssetCheck(rangeCheckReport(this.keyOf(asset), events));
    }
  }
}

const LEVELS = { debug: "DEBUG", info: "INFO", warning: "WARNING", error: "ERROR" } as const;

function push<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/** The TypeScript error as a real Error, so Pipes sends its name, message, stack and cause. */
export function toError(e: SerializedError): Error {
  const error = new Error(e.message, e.cause ? { cause: toError(e.cause) } : undefined);
  error.name = e.name;
  error.stack = e.stack ?? `${e.name}: ${e.message}`;
  return error;
}

export interface DagsterStepOptions {
  readonly manifestPath: string;
  /** The Pipes context; by default opened from `env`'s DAGSTER_PIPES_CONTEXT / DAGSTER_PIPES_MESSAGES. */
  readonly pipes?: PipesContext;
  /** The step's environment (default `process.env`, which a warm worker sets per step). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Where the step's output goes: this process's fds (default) or a warm worker's connection. */
  readonly io?: StepIO;
}

/**
 * Run one Dagster step; returns the exit code: 0 success, 1 a failure a retry may fix, 3 a
 * deterministic failure (143 after SIGTERM). Core's step guard closes a step that Node leaves
 * early (a promise that never settles, process.exit() in user code, a signal): the open assets
 * fail, named. The summary (SUMMARY_ENV_VAR) is written at `step_end` in every case.
 */
export async function runDagsterStep(options: DagsterStepOptions): Promise<number> {
  const env = options.env ?? process.env;
  if (options.pipes !== undefined) return runWithPipes(options, options.pipes, env);
  // A fresh context for every step, read from this step's bootstrap variables (never the
  // worker's argv): a warm worker serves many steps, and `openDagsterPipes` keeps a singleton.
  // Signals are the step guard's: it fails the open assets as cancelled, then exits 143.
  resetPipesContext();
  const pipes = openDagsterPipes({
    handleSignals: false,
    paramsLoader: new PipesEnvVarParamsLoader(env),
    messageWriter: new PipesDefaultMessageWriter(options.io ? { stdio: options.io } : {}),
  });
  try {
    return await runWithPipes(options, pipes, env);
  } finally {
    resetPipesContext();
  }
}

async function runWithPipes(options: DagsterStepOptions, pipes: PipesContext, env: Readonly<Record<string, string | undefined>>): Promise<number> {
  const summaryPath = env[SUMMARY_ENV_VAR];
  const end = (summary: StepSummary): void => {
    if (summaryPath) writeFileSync(summaryPath, JSON.stringify(summary) + "\n");
    const first = summary.failures[0];
    if (pipes.isClosed) return;
    if (summary.failures.length === 0 && summary.finished) pipes.close();
    else pipes.close(first ? toError(first.error) : new Error("the step failed"));
  };
  let redact: <T>(value: T) => T = (v) => v;
  let unredact = (): void => undefined;
  try {
    const manifestPath = resolve(options.manifestPath);
    const manifest = readStepManifest(manifestPath);
    // A module that is not the one the build hashed: BatonError("MANIFEST"), deterministic (exit 3).
    verifyModule(manifest, manifestPath);
    const secrets = secretValues(manifest, env);
    redact = redactor(secrets);
    // Every secret of the code location, not only this step's: the asset could print any of them.
    // Unregistered after the step, so a warm worker never applies one step's secrets to the next.
    const redactText = redactorOf(secrets);
    if (options.pipes === undefined) unredact = redactProcessOutput(redactText);
    const definitions = await loadDefinitions(resolve(dirname(manifestPath), manifest.runtime.module), manifest.runtime.export);
    const request = requestFromPipes(pipes, manifest);
    const reporter = new PipesReporter(pipes, manifest, request.partitionRange !== undefined, redact, end);
    if (options.pipes !== undefined) {
      const result = await runStep({ definitions, ...request, env, onEvent: reporter.onEvent });
      return result.status === "success" ? 0 : result.retryable ? 1 : DETERMINISTIC_EXIT;
    }
    // The process's events, or on a warm worker the worker's view of this one step.
    const guard = guardStep({ assets: request.assets, write: reporter.onEvent, redact: redactText, ...(options.io ? { host: options.io.host, stderr: options.io.err } : {}) });
    // A timed compute that blocks the event loop: the watchdog thread prints its stderr line (to
    // the worker connection on a warm worker) and SIGKILLs this process (EXECUTION-CONTRACT.md §1);
    // baton_dagster.step makes that line the step's error. Started only for a timed asset: a
    // thread costs its start.
    const selected = new Set(request.assets);
    const timed = definitions.assets.some((a) => selected.has(a.id) && a.timeoutSeconds !== undefined);
    const watchdog = timed ? startWatchdog(options.io ? { io: options.io } : {}) : undefined;
    let result;
    try {
      result = await runStep({ definitions, ...request, env, onEvent: guard.onEvent, signal: guard.signal, ...(watchdog ? { watchdog } : {}) });
    } finally {
      // A warm worker's next step must not inherit the thread.
      await watchdog?.stop();
    }
    guard.release();
    return guard.exitCode(result);
  } catch (e) {
    // Failures around the step (bad manifest, unknown asset) still reach Dagster with their stack.
    const error = redact(serializeError(e));
    end({ failures: [{ asset: "", partitionKey: null, error }], skipped: {}, materialized: [], finished: false, retryable: error.retryable });
    return error.retryable ? 1 : DETERMINISTIC_EXIT;
  } finally {
    unredact();
  }
}
