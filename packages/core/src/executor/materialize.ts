import { randomUUID } from "node:crypto";
import type { Definitions } from "../definitions.js";
import { LocalIOStore } from "../io/store.js";
import type { PartitionKeyRange } from "../partitions/types.js";
import { partitionKeysFor, runStep } from "../step/run.js";
import { redactProcessOutput } from "../step/output.js";
import { resourceKeys, secretRedactor } from "../step/resources.js";
import { serializeError, type MaterializationMetadata, type SerializedError, type StepEvent } from "../step/events.js";
import { StepCancelled } from "../errors.js";

export interface MaterializeOptions {
  /** Asset selection (see `selectAssets`); every asset when absent. */
  readonly selection?: string;
  readonly partition?: string;
  readonly partitionRange?: PartitionKeyRange;
  /** Ready-made resource instances, replacing the definitions' factories. */
  readonly resources?: Readonly<Record<string, unknown>>;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly store?: LocalIOStore;
  readonly runId?: string;
  /** Independent assets run concurrently, at most this many at once. */
  readonly concurrency?: number;
  readonly onEvent?: (event: StepEvent) => void;
  readonly now?: Date;
  /** Replaces the wait between retries (tests use 0). */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Cancels the run: nothing is written afterwards, no further asset starts or retries. */
  readonly signal?: AbortSignal;
}

export interface AssetRunResult {
  readonly status: "success" | "failure" | "skipped";
  readonly attempts: number;
  readonly durationMs: number;
  readonly materializations: readonly { partitionKey: string | null; dataVersion: string | null; metadata: MaterializationMetadata }[];
  readonly checks: readonly { check: string; partitionKey: string | null; passed: boolean; severity: string }[];
  readonly error: SerializedError | null;
}

export interface MaterializeResult {
  readonly runId: string;
  readonly status: "success" | "failure";
  readonly durationMs: number;
  readonly assets: Readonly<Record<string, AssetRunResult>>;
}

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * The embedded executor: the graph in one process, in dependency order, independent assets
 * concurrently, each asset one call of the step runtime — the same call an orchestrator makes.
 */
export async function materialize(defs: Definitions, options: MaterializeOptions = {}): Promise<MaterializeResult> {
  const started = performance.now();
  const runId = options.runId ?? randomUUID();
  const store = options.store ?? new LocalIOStore();
  const selected = defs.select(options.selection ?? "*");
  // Check every partition key up front: a typo must not leave half a run behind.
  for (const id of selected) partitionKeysFor(defs.asset(id), { partitionKey: options.partition, partitionRange: options.partitionRange }, options.now ?? new Date());
  const inRun = new Set(selected);
  const waiting = new Map(selected.map((id) => [id, defs.upstream(id).filter((u) => inRun.has(u))]));
  const results: Record<string, AssetRunResult> = {};
  const limit = Math.max(1, options.concurrency ?? 4);
  const sleep = options.sleep ?? delay;
  const running = new Set<Promise<void>>();
  const environment = options.env ?? process.env;
  // What the assets print between and around steps is redacted too (each step also redacts its own).
  const releaseOutput = redactProcessOutput(secretRedactor(defs, resourceKeys(selected.map((id) => defs.asset(id))), environment));

  const runAsset = async (id: string): Promise<void> => {
    const a = defs.asset(id);
    const t0 = performance.now();
    const mats: AssetRunResult["materializations"][number][] = [];
    const checks: AssetRunResult["checks"][number][] = [];
    let error: SerializedError | null = null;
    let attempts = 0;
    const maxAttempts = 1 + (a.retry?.maxRetries ?? 0);
    let ok = false;
    let retryable = true;
    // Deterministic failures (a missing variable, a wrong output type…) are not retried.
    while (!ok && retryable && attempts < maxAttempts && !options.signal?.aborted) {
      if (attempts > 0) {
        const base = (a.retry?.delaySeconds ?? 0) * 1000;
        await sleep(a.retry?.backoff === "exponential" ? base * 2 ** (attempts - 1) : base);
      }
      mats.length = 0;
      checks.length = 0;
      error = null;
      const step = await runStep({
        definitions: defs,
        assets: [id],
        partitionKey: options.partition,
        partitionRange: options.partitionRange,
        runId,
        retryNumber: attempts,
        store,
        ...(options.env ? { env: options.env } : {}),
        ...(options.resources ? { resources: options.resources } : {}),
        ...(options.now ? { now: options.now } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
        onEvent: (e) => {
          if (e.type === "materialization") mats.push({ partitionKey: e.partitionKey, dataVersion: e.dataVersion, metadata: e.metadata });
          else if (e.type === "check") checks.push({ check: e.check, partitionKey: e.partitionKey, passed: e.passed, severity: e.severity });
          else if (e.type === "asset_failure") error = e.error;
          else if (e.type === "step_end" && e.error && !error) error = e.error;
          options.onEvent?.(e);
        },
      });
      attempts++;
      ok = step.status === "success";
      retryable = step.retryable;
    }
    results[id] = { status: ok ? "success" : "failure", attempts, durationMs: performance.now() - t0, materializations: mats, checks, error };
  };

  const skipDownstream = (id: string) => {
    for (const down of defs.downstream(id)) {
      if (!waiting.has(down)) continue;
      waiting.delete(down);
      results[down] = { status: "skipped", attempts: 0, durationMs: 0, materializations: [], checks: [], error: null };
      options.onEvent?.({ type: "asset_skipped", asset: down, reason: `upstream "${id}" did not succeed` });
      skipDownstream(down);
    }
  };

  const launchReady = () => {
    if (options.signal?.aborted) return;
    for (const [id, ups] of waiting) {
      if (running.size >= limit) return;
      if (ups.some((u) => results[u]?.status !== "success")) continue;
      waiting.delete(id);
      const p: Promise<void> = runAsset(id).then(() => {
        running.delete(p);
        if (results[id]?.status !== "success") skipDownstream(id);
      });
      running.add(p);
    }
  };

  try {
    launchReady();
    while (running.size > 0) {
      await Promise.race(running);
      launchReady();
    }
  } finally {
    releaseOutput();
  }
  // Cancelled before they could start.
  for (const id of selected) {
    if (!results[id]) results[id] = { status: "failure", attempts: 0, durationMs: 0, materializations: [], checks: [], error: serializeError(new StepCancelled()) };
  }
  const status = selected.every((id) => results[id]?.status === "success") ? "success" : "failure";
  const ordered = Object.fromEntries(selected.map((id) => [id, results[id]!]));
  return { runId, status, durationMs: performance.now() - started, assets: ordered };
}
