import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { asset, definitions } from "@baton/core";
import { generateCustomers } from "@baton/testing/fixtures";

/*
 * Definitions for the warm worker's fault tests (worker.integration.test.ts). Each compute writes
 * `<name>.pid` (the process it runs in: the worker's pid when the worker is on) into
 * WORKER_CONTROL_DIR, and a held one then waits for `<name>.release`, so the test can act on the
 * worker while the step is running. The control folder comes from the step's own environment.
 */
const control = () => {
  const dir = process.env.WORKER_CONTROL_DIR ?? ".worker-control";
  mkdirSync(dir, { recursive: true });
  return dir;
};

/** Writes `<name>.pid`, then waits (up to two minutes, so a failed test leaves no step behind) for `<name>.release`. */
async function hold(name: string, signal: AbortSignal): Promise<void> {
  const dir = control();
  writeFileSync(join(dir, `${name}.pid`), `${process.pid}\n`);
  const deadline = Date.now() + 120_000;
  while (!existsSync(join(dir, `${name}.release`))) {
    if (Date.now() > deadline) throw new Error(`${name}: never released`);
    signal.throwIfAborted();
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Held on every attempt (`held.<retryNumber>`); one retry, at once. */
const held = asset({
  key: "held",
  group: "worker",
  retry: { maxRetries: 1, delaySeconds: 0 },
  compute: async (_i, ctx) => (await hold(`held.${ctx.retryNumber}`, ctx.signal), generateCustomers({ count: 3 })),
});

/** Two assets each run by its own flow run at the same time (the same build: one worker key). */
const paired = (name: string) =>
  asset({ key: ["pair", name], group: "worker", compute: async (_i, ctx) => (await hold(`pair-${name}`, ctx.signal), generateCustomers({ count: 2 })) });

/** Says which process ran it; its codeVersion is what a rebuild changes. */
const who = (codeVersion: string) =>
  asset({
    key: "who",
    group: "worker",
    codeVersion,
    compute: () => {
      writeFileSync(join(control(), `who-${codeVersion}.pid`), `${process.pid}\n`);
      return generateCustomers({ count: 1 });
    },
  });

const common = [held, paired("a"), paired("b")];

export default definitions({ assets: [...common, who("1")] });

/** The same project after an edit: `who`'s codeVersion changed, so the rebuilt manifest differs. */
export const rebuilt = definitions({ assets: [...common, who("2")] });
