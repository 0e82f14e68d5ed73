// The worker fault test's project (worker.integration.test.ts). Every compute appends
// "<asset> <run id> <retry> <pid>" to $FAULT_CONTROL_DIR/pids.log: on the warm worker the pid is the
// worker's, so the test knows which process ran each step (and which one to kill).
import pl from "nodejs-polars";
import { appendFileSync, existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { asset, definitions } from "@baton/core";

/** How long a compute waits for the test before it gives up (the test's own deadlines are shorter). */
const GIVE_UP_MS = 240_000;

function control(): string {
  const dir = process.env.FAULT_CONTROL_DIR;
  if (!dir) throw new Error("FAULT_CONTROL_DIR is not set");
  mkdirSync(dir, { recursive: true });
  return dir;
}

function note(asset: string, runId: string, retry: number): void {
  appendFileSync(join(control(), "pids.log"), `${asset} ${runId} ${retry} ${process.pid}\n`);
}

async function until(condition: () => boolean, what: string, signal: AbortSignal): Promise<void> {
  const deadline = Date.now() + GIVE_UP_MS;
  while (!condition()) {
    if (signal.aborted) throw new Error(`stopped while waiting for ${what}`);
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await sleep(100);
  }
}

/** Its first attempt waits (the test kills the worker meanwhile); the retry returns at once. */
export const fragile = asset({
  key: "fragile",
  group: "faults",
  retry: { maxRetries: 1, delaySeconds: 0 },
  compute: async (_i, ctx) => {
    note("fragile", ctx.runId, ctx.retryNumber);
    if (ctx.retryNumber === 0) await until(() => existsSync(join(control(), "fragile.release")), "fragile.release", ctx.signal);
    return pl.DataFrame({ attempt: pl.Series("attempt", [ctx.retryNumber], pl.Int64) });
  },
});

/** Two runs meet here: each waits until the other's step has started too, so both hold a worker at once. */
export const meet = asset({
  key: "meet",
  group: "faults",
  compute: async (_i, ctx) => {
    note("meet", ctx.runId, ctx.retryNumber);
    const dir = join(control(), "meet");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${process.pid}-${Date.now()}`), ctx.runId);
    await until(() => readdirSync(dir).length >= 2, "the other run's step", ctx.signal);
    return pl.DataFrame({ met: pl.Series("met", [readdirSync(dir).length], pl.Int64) });
  },
});

/** Runs until the test releases it, or until its step is cancelled (ctx.signal). */
export const held = asset({
  key: "held",
  group: "faults",
  compute: async (_i, ctx) => {
    note("held", ctx.runId, ctx.retryNumber);
    await until(() => existsSync(join(control(), "held.release")), "held.release", ctx.signal);
    return pl.DataFrame({ ok: pl.Series("ok", [1], pl.Int64) });
  },
});

/** Built twice with a different FAULT_BUILD (a new manifest): the second build's steps need a new worker. */
export const versioned = asset({
  key: "versioned",
  group: "faults",
  description: `built as ${process.env.FAULT_BUILD ?? "first"}`,
  compute: (_i, ctx) => {
    note("versioned", ctx.runId, ctx.retryNumber);
    return pl.DataFrame({ ok: pl.Series("ok", [1], pl.Int64) });
  },
});

export default definitions({ assets: [fragile, meet, held, versioned] });
