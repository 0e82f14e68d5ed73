// Definitions for the Dagster-specific truth tests (truth.integration.test.ts): what the shared
// conformance fixtures cannot show on their own (streaming, one resource's missing variable, Node
// missing, a killed Python process).
import pl from "nodejs-polars";
import { existsSync, mkdirSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { asset, definitions, env, resource, secret } from "@baton/core";

const one = (name, value) => pl.DataFrame({ [name]: pl.Series(name, [value], pl.Int64) });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A resource whose secret variable the tests never set. */
const vault = resource({
  description: "Needs TRUTH_VAULT_TOKEN, which is never set",
  config: { token: secret("TRUTH_VAULT_TOKEN", { description: "vault token" }) },
  create: ({ token }) => ({ token }),
});

const canary = resource({
  config: { token: secret("TRUTH_CANARY", { description: "the canary" }) },
  create: ({ token }) => ({ token }),
});

const control = resource({
  config: { dir: env("TRUTH_CONTROL_DIR") },
  create: ({ dir }) => ({ dir }),
});

/** Two assets in one multi-asset step: the first finishes at once, the second 4 s later. */
export const first = asset({ key: ["stream", "first"], group: "stream", compute: () => one("first", 1) });
export const second = asset({
  key: ["stream", "second"],
  group: "stream",
  compute: async () => {
    await sleep(4_000);
    return one("second", 2);
  },
});

export const needsVault = asset({
  key: "needs_vault",
  group: "vault",
  resources: ["vault"],
  retry: { maxRetries: 2, delaySeconds: 0 },
  compute: () => one("vault", 1),
});

/** Same group and retry policy as needs_vault, so the same multi-asset op, but no resource. */
export const plain = asset({ key: "plain", group: "vault", retry: { maxRetries: 2, delaySeconds: 0 }, compute: () => one("plain", 1) });

/** Writes the canary straight to file descriptors 1 and 2, past Node's stream redaction. */
export const rawPrint = asset({
  key: "raw_print",
  group: "secrets",
  resources: ["canary"],
  compute: (_i, ctx) => {
    writeSync(1, `raw_print fd1 token=${ctx.resources.canary.token}\n`);
    writeSync(2, `raw_print fd2 token=${ctx.resources.canary.token}\n`);
    return one("raw", 1);
  },
});

/** No resource, a retry policy: its own op. */
export const retried = asset({ key: "retried", group: "retried", retry: { maxRetries: 2, delaySeconds: 0 }, compute: () => one("retried", 1) });

/** Writes `<dir>/hang.started` (its pid), then waits for `<dir>/hang.release` and writes an output. */
export const hang = asset({
  key: "hang",
  group: "hang",
  resources: ["control"],
  compute: async (_i, ctx) => {
    const { dir } = ctx.resources.control;
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "hang.started"), `${process.pid}\n`);
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline && !existsSync(join(dir, "hang.release"))) await sleep(100);
    return one("hang", 1);
  },
});

export default definitions({
  assets: [first, second, needsVault, plain, retried, rawPrint, hang],
  resources: { vault, canary, control },
});
