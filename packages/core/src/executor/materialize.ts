import type { RetryPolicy } from "../asset.js";
import { randomUUID } from "node:crypto";
import { allChecksOf, type CheckOfAsset, type Definitions } from "../definitions.js";
import type { IOStore } from "../io/store.js";
import { openStore } from "../io/open.js";
import type { PartitionKeyRange } from "../partitions/types.js";
import { firstInRunOrder, planRun, type PlannedAsset, type RunPlan } from "../plan.js";
import { checkNamesKnown, runStep } from "../step/run.js";
import { redactProcessOutput } from "../step/output.js";
import { redactorOf, stepResourceKeys, stepSecrets } from "../step/resources.js";
import { serializeError, type MaterializationMetadata, type SerializedError, type StepEvent } from "../step/events.js";
import { StepCancelled } from "../errors.js";
import type { TimeoutWatchdog } from "../step/watchdog.js";
import { ReadyQueue } from "./ready-queue.js";
import { groupUnits, identity } from "./units.js";
import { resolveSelection, type Selection } from "../selection.js";

export interface MaterializeOptions {
  /** Asset selection: the string syntax (see `selectAssets`), an asset, a helper (`upstream(x)`, …) or an array of these; every asset when absent. */
  readonly selection?: Selection;
  readonly partition?: string;
  readonly partitionRange?: PartitionKeyRange;
  /** Ready-made resource instances, replacing the definitions' factories. */
  readonly resources?: Readonly<Record<string, unknown>>;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Where outputs go; by default the store BATON_STORAGE (of `env`) names. */
  readonly store?: IOStore;
  readonly runId?: string;
  /** Independent assets run concurrently, at most this many at once (and at most each pool's limit of its assets). */
  readonly concurrency?: number;
  readonly onEvent?: (event: StepEvent) => void;
  readonly now?: Date;
  /** Replaces the wait between retries (tests use 0). */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Cancels the run: nothing is written afterwards, no further asset starts or retries. */
  readonly signal?: AbortSignal;
  /** Stops the process when a timed asset blocks the event loop past its deadline (`baton materialize` starts one). */
  readonly watchdog?: TimeoutWatchdog;
  /**
   * Run checks alone against the stored outputs (`baton check`): one check-only step per selected asset that has
   * a selected check, inline and standalone; nothing is computed or written (EXECUTION-CONTRACT.md §5).
   */
  readonly checksOnly?: boolean;
  /**
   * Only these checks run (by name), inline and standalone; all by default. A name that is no check of a
   * selected asset is INVALID_DEFINITION before anything runs.
   */
  readonly checks?: readonly string[];
}

export interface AssetRunResult {
  readonly status: "success" | "failure" | "skipped";
  readonly attempts: number;
  readonly durationMs: number;
  readonly materializations: readonly { partitionKey: string | null; dataVersion: string | null; metadata: MaterializationMetadata }[];
  readonly checks: readonly { check: string; partitionKey: string | null; passed: boolean; severity: string }[];
  readonly error: SerializedError | null;
}

/** A standalone check's own step in a run (CHECKS-CONTRACT.md §3): after its target and in-run inputs, blocking nothing. */
export interface CheckStepResult {
  readonly asset: string;
  readonly check: string;
  /** "skipped" when its target or an in-run input did not succeed; "failure" when an error-severity check failed or its inputs could not be read. */
  readonly status: "success" | "failure" | "skipped";
  readonly attempts: number;
  readonly durationMs: number;
  readonly checks: AssetRunResult["checks"];
  readonly error: SerializedError | null;
}

export interface MaterializeResult {
  readonly runId: string;
  /** "failure" when any planned asset or check step did not succeed (a failed error-severity check); assets the plan skipped do not count. */
  readonly status: "success" | "failure";
  readonly durationMs: number;
  /**
   * Every asset of the plan, run or skipped, in dependency order. An asset's `checks` holds its inline checks'
   * verdicts, then its standalone checks' (from their check steps). With `checksOnly`, the checked assets, no materializations.
   */
  readonly assets: Readonly<Record<string, AssetRunResult>>;
  /** The standalone checks' steps of a materialization, in run order (empty with `checksOnly`: there each asset is one check step). */
  readonly checkSteps: readonly CheckStepResult[];
  /** The run's failure: the first failed asset in run order (`firstInRunOrder`), else the first failed check step (`check` set); null when none failed. */
  readonly failure: { readonly asset: string; readonly check?: string; readonly error: SerializedError | null } | null;
  /** Why planned assets were skipped, and what the plan warned about (also emitted as `asset_skipped` and `log` events). */
  readonly plan: Pick<RunPlan, "skipped" | "warnings">;
}

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * The embedded executor: the graph in one process, in dependency order, independent assets
 * concurrently, each asset one call of the step runtime — the same call an orchestrator makes.
 */
export async function materialize(defs: Definitions, options: MaterializeOptions = {}): Promise<MaterializeResult> {
  const started = performance.now();
  const runId = options.runId ?? randomUUID();
  const environment = options.env ?? process.env;
  const store = options.store ?? openStore(environment.BATON_STORAGE, environment);
  // One instant for the plan and its steps, so a window completing mid-run cannot change the keys.
  const now = options.now ?? new Date();
  // The one planner (plan.ts): every key is checked up front, so a typo leaves no half run behind.
  const plan = planRun(defs, { selection: options.selection === undefined ? undefined : resolveSelection(options.selection), partitionKey: options.partition, partitionRange: options.partitionRange, now });
  const checksOnly = options.checksOnly === true;
  const only = options.checks === undefined ? undefined : new Set(options.checks);
  const isPicked = (c: CheckOfAsset) => only === undefined || only.has(c.name);
  /** The selected checks' names of an asset: every one, or only the inline ones (what its materialization runs). */
  const picked = (id: string, inline: boolean) => allChecksOf(defs, id).flatMap((c) => (isPicked(c) && !(inline && c.standalone) ? [c.name] : []));
  // Standalone checks are named too: a materialization runs them in steps of their own.
  if (only !== undefined) checkNamesKnown(defs, plan.assets.map((a) => a.id), [...only], false);
  // Checks alone: the assets with a selected check, each one check-only step, independent of the others.
  const planned = checksOnly ? plan.assets.filter((a) => picked(a.id, false).length > 0) : plan.assets;
  const selected = planned.map((a) => a.id);
  // Each planned asset by its position in run order; the scheduling below works on positions.
  const position = new Map(selected.map((id, i) => [id, i]));
  // A materialization's standalone checks: one step each, at positions after the assets'.
  const checkNodes = checksOnly ? [] : planned.flatMap((a) => allChecksOf(defs, a.id).flatMap((c) => (c.standalone && isPicked(c) ? [{ target: a, check: c.definition }] : [])));
  const total = selected.length + checkNodes.length;
  // The assets of one asset group run as one step (one execute), in topological waves (executor/units.ts).
  const leaderOf = checksOnly ? identity(total) : groupUnits(defs, planned, total);
  const membersOf = new Map<number, number[]>();
  for (let i = 0; i < selected.length; i++) if (leaderOf[i] !== i) membersOf.set(leaderOf[i]!, [...(membersOf.get(leaderOf[i]!) ?? [leaderOf[i]!]), i]);
  const unitOf = (at: number): readonly number[] => membersOf.get(at) ?? [at];
  // The check steps waiting on each asset (its target, and the in-run assets it reads).
  const checksWaitingOn = new Map<string, number[]>();
  // In-run upstreams not yet succeeded: an asset is ready at 0 (counted once, not rescanned per completion).
  const remaining = new Int32Array(total);
  if (!checksOnly) {
    for (let i = 0; i < selected.length; i++) {
      for (const u of defs.upstream(selected[i]!)) {
        const at = position.get(u);
        if (at !== undefined && leaderOf[at] !== leaderOf[i]) remaining[leaderOf[i]!]!++;
      }
    }
  }
  checkNodes.forEach(({ target, check }, j) => {
    const at = selected.length + j;
    for (const id of new Set([target.id, ...check.inputs.map((i) => i.key.join("/"))])) {
      if (!position.has(id)) continue;
      remaining[at]!++;
      const list = checksWaitingOn.get(id) ?? [];
      list.push(at);
      checksWaitingOn.set(id, list);
    }
  });
  // Not yet started, nor skipped.
  const waiting = new Uint8Array(total).fill(1);
  // Each planned asset's (and check step's) result by its position; the ones the plan skipped by id.
  const results: (AssetRunResult | undefined)[] = new Array<AssetRunResult | undefined>(total);
  const planSkipped = new Map<string, AssetRunResult>();
  const limit = Math.max(1, options.concurrency ?? 4);
  const sleep = options.sleep ?? delay;
  const skipped = (): AssetRunResult => ({ status: "skipped", attempts: 0, durationMs: 0, materializations: [], checks: [], error: null });
  for (const s of plan.skipped) {
    planSkipped.set(s.id, skipped());
    options.onEvent?.({ type: "asset_skipped", asset: s.id, reason: s.reason });
  }
  for (const message of plan.warnings) options.onEvent?.({ type: "log", level: "warning", message, asset: null });
  // What the assets print between and around steps is redacted too (each step also redacts its own).
  const releaseOutput = redactProcessOutput(redactorOf(stepSecrets(defs, stepResourceKeys(defs, selected.map((id) => defs.asset(id))), environment)));

  /** What every step of this run shares, for its attempt `retryNumber`. */
  const stepRun = (retryNumber: number) => ({
    runId,
    retryNumber,
    store,
    ...(options.env ? { env: options.env } : {}),
    ...(options.resources ? { resources: options.resources } : {}),
    now,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.watchdog ? { watchdog: options.watchdog } : {}),
  });

  /** The wait before retry `tries` (1, 2, …) of a step, under the asset's retry policy. */
  const retryDelay = (a: { readonly retry: RetryPolicy | undefined }, tries: number): Promise<void> => {
    const base = (a.retry?.delaySeconds ?? 0) * 1000;
    return sleep(a.retry?.backoff === "exponential" ? base * 2 ** (tries - 1) : base);
  };

  /** What the step at a position runs: an asset (materialized, or checked alone), or one standalone check of one. */
  const stepOf = (at: number): { planned: PlannedAsset; checksOnly: boolean; checks: readonly string[] | undefined } => {
    if (at >= selected.length) {
      const { target, check } = checkNodes[at - selected.length]!;
      return { planned: target, checksOnly: true, checks: [check.name] };
    }
    const p = planned[at]!;
    if (checksOnly) return { planned: p, checksOnly: true, checks: only === undefined ? undefined : picked(p.id, false) };
    // A materialization runs the inline checks only; naming a standalone one there is an error (step/run.ts).
    return { planned: p, checksOnly: false, checks: only === undefined ? undefined : picked(p.id, true) };
  };

  /** One step per run of consecutive partitions (one step when unpartitioned), each retried under the policy. */
  const runAsset = async (at: number, members: readonly number[]): Promise<void> => {
    if (members.length > 1) return runUnit(at, members);
    const { planned: p, checksOnly: checking, checks: stepChecks } = stepOf(at);
    const { id, ranges } = p;
    const a = defs.asset(id);
    const t0 = performance.now();
    const mats: AssetRunResult["materializations"][number][] = [];
    const checks: AssetRunResult["checks"][number][] = [];
    let error: SerializedError | null = null;
    // The most attempts any of the asset's steps took.
    let attempts = 0;
    const maxAttempts = 1 + (a.retry?.maxRetries ?? 0);
    let ok = true;
    for (const range of ranges ?? [null]) {
      const keys = range === null ? {} : range.start === range.end ? { partitionKey: range.start } : { partitionRange: range };
      // A retry runs the whole step again: what its earlier attempts reported is replaced.
      const kept = { mats: mats.length, checks: checks.length };
      let tries = 0;
      let done = false;
      let retryable = true;
      // Deterministic failures (a missing variable, a wrong output type…) are not retried.
      while (!done && retryable && tries < maxAttempts && !options.signal?.aborted) {
        if (tries > 0) await retryDelay(a, tries);
        mats.length = kept.mats;
        checks.length = kept.checks;
        error = null;
        const step = await runStep({
          definitions: defs,
          assets: [id],
          ...keys,
          ...stepRun(tries),
          ...(checking ? { checksOnly: true } : {}),
          ...(stepChecks !== undefined ? { checks: stepChecks } : {}),
          onEvent: (e) => {
            if (e.type === "materialization") mats.push({ partitionKey: e.partitionKey, dataVersion: e.dataVersion, metadata: e.metadata });
            else if (e.type === "check") checks.push({ check: e.check, partitionKey: e.partitionKey, passed: e.passed, severity: e.severity });
            else if (e.type === "asset_failure") error = e.error;
            else if (e.type === "step_end" && e.error && !error) error = e.error;
            options.onEvent?.(e);
          },
        });
        tries++;
        done = step.status === "success";
        retryable = step.retryable;
      }
      attempts = Math.max(attempts, tries);
      if (!done) {
        ok = false;
        if (error === null && options.signal?.aborted) error = serializeError(new StepCancelled());
        break;
      }
    }
    results[at] = { status: ok ? "success" : "failure", attempts, durationMs: performance.now() - t0, materializations: mats, checks, error };
  };

  /**
   * Several assets of one group: one step (one execute per partition key) per range, retried as a whole under the
   * group's policy; each asset's result from its own events. An asset failed or skipped in one range does not run in
   * the next ones, nor do the unit's assets below it.
   */
  const runUnit = async (at: number, members: readonly number[]): Promise<void> => {
    const t0 = performance.now();
    const ids = members.map((m) => selected[m]!);
    const a = defs.asset(ids[0]!);
    const maxAttempts = 1 + (a.retry?.maxRetries ?? 0);
    const own = new Map(ids.map((id) => [id, { status: "success" as AssetRunResult["status"], mats: [] as AssetRunResult["materializations"][number][], checks: [] as AssetRunResult["checks"][number][], error: null as SerializedError | null }]));
    let attempts = 0;
    for (const range of planned[at]!.ranges ?? [null]) {
      const current = ids.filter((id) => own.get(id)!.status === "success" && defs.upstream(id).every((up) => own.get(up)?.status !== "failure" && own.get(up)?.status !== "skipped"));
      for (const id of ids) if (own.get(id)!.status === "success" && !current.includes(id)) own.get(id)!.status = "skipped";
      if (current.length === 0) break;
      const keys = range === null ? {} : range.start === range.end ? { partitionKey: range.start } : { partitionRange: range };
      const kept = new Map(current.map((id) => [id, { mats: own.get(id)!.mats.length, checks: own.get(id)!.checks.length }]));
      let tries = 0;
      let step: Awaited<ReturnType<typeof runStep>> | undefined;
      while ((step === undefined || (step.status !== "success" && step.retryable)) && tries < maxAttempts && !options.signal?.aborted) {
        if (tries > 0) await retryDelay(a, tries);
        for (const id of current) {
          const r = own.get(id)!;
          r.mats.length = kept.get(id)!.mats;
          r.checks.length = kept.get(id)!.checks;
          r.error = null;
        }
        let stepError: SerializedError | null = null;
        step = await runStep({
          definitions: defs,
          assets: current,
          ...keys,
          ...stepRun(tries),
          ...(only !== undefined ? { checks: [...new Set(current.flatMap((id) => picked(id, true)))] } : {}),
          onEvent: (e) => {
            const r = "asset" in e && typeof e.asset === "string" ? own.get(e.asset) : undefined;
            if (e.type === "materialization") r?.mats.push({ partitionKey: e.partitionKey, dataVersion: e.dataVersion, metadata: e.metadata });
            else if (e.type === "check") r?.checks.push({ check: e.check, partitionKey: e.partitionKey, passed: e.passed, severity: e.severity });
            else if (e.type === "asset_failure" && r) r.error = e.error;
            else if (e.type === "step_end" && e.error) stepError = e.error;
            options.onEvent?.(e);
          },
        });
        tries++;
        for (const id of current) {
          const r = own.get(id)!;
          r.status = step.assets[id]?.status ?? "failure";
          if (step.status !== "success" && r.status === "success" && stepError) r.status = "failure";
          if (r.status === "failure") r.error ??= stepError;
        }
      }
      attempts = Math.max(attempts, tries);
      if (step === undefined) for (const id of current) own.get(id)!.status = "failure";
      for (const id of current) {
        const r = own.get(id)!;
        if (r.status === "failure" && r.error === null && options.signal?.aborted) r.error = serializeError(new StepCancelled());
      }
    }
    const durationMs = performance.now() - t0;
    members.forEach((m, i) => {
      const r = own.get(ids[i]!)!;
      results[m] = { status: r.status, attempts, durationMs, materializations: r.mats, checks: r.checks, error: r.error };
    });
  };

  /** Everything not started below a failed asset is skipped, depth first as the graph reaches it (no recursion: chains can be 100,000 long). */
  const skipChecksOn = (id: string) => {
    for (const at of checksWaitingOn.get(id) ?? []) {
      if (!waiting[at]) continue;
      waiting[at] = 0;
      results[at] = skipped();
    }
  };
  const skipDownstream = (failed: string, skippedNow: number[]) => {
    skipChecksOn(failed);
    if (checksOnly) return; // checks alone block nothing
    const stack: { readonly id: string; readonly downs: readonly string[]; next: number }[] = [{ id: failed, downs: defs.downstream(failed), next: 0 }];
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      if (top.next >= top.downs.length) {
        stack.pop();
        continue;
      }
      const down = top.downs[top.next++]!;
      const at = position.get(down);
      if (at === undefined || !waiting[at]) continue;
      waiting[at] = 0;
      results[at] = skipped();
      skippedNow.push(at);
      options.onEvent?.({ type: "asset_skipped", asset: down, reason: `upstream "${top.id}" did not succeed` });
      skipChecksOn(down);
      stack.push({ id: down, downs: defs.downstream(down), next: 0 });
    }
  };

  /** An asset's result is known (or it was skipped): the steps downstream of it wait on one edge less. */
  const resolveEdges = (m: number) => {
    if (checksOnly) return;
    for (const down of defs.downstream(selected[m]!)) {
      const d = position.get(down);
      if (d === undefined || leaderOf[d] === leaderOf[m]) continue;
      const leader = leaderOf[d]!;
      // A step whose every asset was skipped meanwhile never starts.
      if (--remaining[leader]! === 0 && unitOf(leader).some((x) => waiting[x])) ready.push(leader);
    }
  };

  const ready = new ReadyQueue();
  // A unit of several assets is pushed as its first one, the only one its upstream edges count on.
  for (let i = 0; i < total; i++) if (leaderOf[i] === i && remaining[i] === 0) ready.push(i);
  // Steps holding assets of each concurrency pool (definitions({ pools })), beside `concurrency`;
  // the ready assets a full pool holds back wait in `parked` (others may still start).
  const inPool = new Map<string, number>();
  const parked = new Map<string, ReadyQueue>();
  let running = 0;
  let turn = performance.now();

  try {
    await new Promise<void>((resolve, reject) => {
      // A step runtime that throws (it reports failures as events, so: a bug) ends the run; nothing more starts.
      let broken = false;
      const crash = (e: unknown) => {
        broken = true;
        reject(e);
      };
      const finished = (at: number, members: readonly number[], pool: string | undefined) => {
        running--;
        if (pool !== undefined) {
          inPool.set(pool, inPool.get(pool)! - 1);
          // One slot is free: the pool's first held-back asset competes for it again.
          const next = parked.get(pool)?.pop();
          if (next !== undefined) ready.push(next);
        }
        if (at < selected.length) {
          // Skipped first, so that no step below a failure starts when its other upstreams resolve.
          const skippedNow: number[] = [];
          for (const m of members) if (results[m]?.status !== "success") skipDownstream(selected[m]!, skippedNow);
          for (const m of members) {
            if (results[m]?.status === "success") for (const c of checksWaitingOn.get(selected[m]!) ?? []) if (waiting[c] && --remaining[c]! === 0) ready.push(c);
            resolveEdges(m);
          }
          for (const d of skippedNow) resolveEdges(d);
        } // a check step blocks nothing
        // Steps that never wait on IO (an in-memory store) would chain in microtasks and starve the
        // event loop: timers, a signal's abort and SIGINT wait for a turn. Give them one every few ms.
        if (performance.now() - turn < 10) launch();
        else
          setImmediate(() => {
            turn = performance.now();
            launch();
          });
      };
      const launch = () => {
        while (!broken && !options.signal?.aborted && running < limit) {
          const leader = ready.pop();
          if (leader === undefined) break;
          // A unit's assets not skipped meanwhile; its first one stands for it (a check step: itself).
          const members = leader < selected.length ? unitOf(leader).filter((m) => waiting[m]) : [leader];
          const at = members[0];
          if (at === undefined) continue;
          const id = stepOf(at).planned.id;
          // A full pool holds its asset back. The slot is held through the asset's retries. Checks compute nothing: no pool.
          const pool = at < selected.length && !checksOnly ? defs.asset(id).pool : undefined;
          if (pool !== undefined && (inPool.get(pool) ?? 0) >= (defs.pools[pool]?.limit ?? Infinity)) {
            let q = parked.get(pool);
            if (!q) parked.set(pool, (q = new ReadyQueue()));
            q.push(leader);
            continue;
          }
          for (const m of members) waiting[m] = 0;
          if (pool !== undefined) inPool.set(pool, (inPool.get(pool) ?? 0) + 1);
          running++;
          runAsset(at, members).then(() => finished(at, members, pool), crash);
        }
        if (running === 0) resolve();
      };
      launch();
    });
  } finally {
    releaseOutput();
  }
  // Cancelled before they could start.
  for (let i = 0; i < total; i++) {
    results[i] ??= { status: "failure", attempts: 0, durationMs: 0, materializations: [], checks: [], error: serializeError(new StepCancelled()) };
  }
  const checkSteps: CheckStepResult[] = checkNodes.map(({ target, check }, j) => {
    const r = results[selected.length + j]!;
    return { asset: target.id, check: check.name, status: r.status, attempts: r.attempts, durationMs: r.durationMs, checks: r.checks, error: r.error };
  });
  // The plan's assets and the check steps decide the run (a skipped check step does not fail it: its target or input did);
  // the assets the plan skipped (partitioned, no key given) do not fail it.
  const status = results.slice(0, selected.length).every((r) => r?.status === "success") && checkSteps.every((c) => c.status !== "failure") ? "success" : "failure";
  // Every asset of the plan, run or skipped, in the definitions' dependency order; its standalone checks' verdicts after its own.
  const checksByTarget = new Map<string, AssetRunResult["checks"][number][]>();
  for (const c of checkSteps) checksByTarget.set(c.asset, [...(checksByTarget.get(c.asset) ?? []), ...c.checks]);
  const assets: Record<string, AssetRunResult> = {};
  for (const a of defs.assets) {
    const at = position.get(a.id);
    const r = at !== undefined ? results[at] : planSkipped.get(a.id);
    if (!r) continue;
    const more = checksByTarget.get(a.id) ?? [];
    assets[a.id] = more.length ? { ...r, checks: [...r.checks, ...more] } : r;
  }
  const first = firstInRunOrder(plan, selected.filter((_, i) => results[i]!.status === "failure"));
  const firstCheck = checkSteps.find((c) => c.status === "failure");
  return {
    runId,
    status,
    durationMs: performance.now() - started,
    assets,
    checkSteps,
    failure: first !== undefined ? { asset: first, error: assets[first]!.error } : firstCheck ? { asset: firstCheck.asset, check: firstCheck.check, error: firstCheck.error } : null,
    plan: { skipped: plan.skipped, warnings: plan.warnings },
  };
}

