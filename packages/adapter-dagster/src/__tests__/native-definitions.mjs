// Definitions for native-assets.integration.test.ts: what Dagster itself must show for blocking
// checks, check-only runs, per-partition backfill runs, pools, timeouts and code references.
// NATIVE_CONTROL_DIR holds the files the test writes to steer them.
import pl from "nodejs-polars";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { asset, assetCheck, dailyPartitions, definitions } from "@baton/core";

const control = () => {
  const dir = process.env.NATIVE_CONTROL_DIR;
  if (!dir) throw new Error("NATIVE_CONTROL_DIR is not set");
  mkdirSync(dir, { recursive: true });
  return dir;
};
/** A number the test wrote to `<control>/<name>`, else `fallback`. */
const setting = (name, fallback) => {
  const file = join(control(), name);
  return existsSync(file) ? Number(readFileSync(file, "utf8")) : fallback;
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const values = (name, list) => pl.DataFrame({ [name]: pl.Series(name, list, pl.Int64) });

/**
 * Its checks read their limits when they run: the test raises the value a compute would return
 * and lowers the strict limit after materializing it, then runs the checks alone.
 */
export const gate = asset({
  key: "gate",
  group: "gate",
  compute: () => values("value", [setting("gate-value", 5)]),
  checks: [
    { name: "under_limit", severity: "error", description: "value <= 10", check: (df) => df.getColumn("value").max() <= 10 },
    { name: "under_strict", severity: "error", description: "value <= the strict file", check: (df) => df.getColumn("value").max() <= setting("strict", 10) },
  ],
});

/** The limit gate's standalone check reads: an input of the check's own. */
export const limits = asset({ key: "limits", group: "gate", compute: () => values("limit", [10]) });

/** A standalone check: an asset check in an op of its own, downstream of gate and limits. */
export const underLimits = assetCheck({
  name: "under_limits",
  asset: gate,
  inputs: { limits },
  description: "value <= the stored limit",
  check: (df, { limits: l }) => df.getColumn("value").max() <= l.getColumn("limit").max(),
});

export const blocked = asset({
  key: "blocked",
  group: "blocked",
  compute: () => values("value", [5]),
  checks: [{ name: "never", severity: "error", description: "always fails", check: () => false }],
});

/** Another op: Dagster skips its step when blocked's blocking check fails. */
export const afterBlocked = asset({ key: "after_blocked", group: "after", deps: [blocked], compute: () => values("after", [1]) });

export const soft = asset({
  key: "soft",
  group: "soft",
  compute: () => values("value", [5]),
  checks: [{ name: "tiny", severity: "warn", description: "fails: 5 is not tiny", check: (df) => df.getColumn("value").max() < 1 }],
});

/** Another op downstream of a failed warn check: it runs. */
export const afterSoft = asset({ key: "after_soft", group: "after_soft", deps: [soft], compute: () => values("after", [1]) });

/** Day N of January 2024 has N rows; 2024-01-02 always fails. */
export const days = asset({
  key: "days",
  group: "days",
  partitions: dailyPartitions({ start: "2024-01-01", end: "2024-01-05" }),
  compute: (_i, ctx) => {
    const day = Number(ctx.partitionKey.slice(-2));
    if (day === 2) throw new Error("days: 2024-01-02 is a bad day");
    return values("n", Array.from({ length: day }, (_, i) => i + day * 10));
  },
  checks: [{ name: "has_rows", severity: "error", description: "at least one row", check: (df) => df.height > 0 }],
});

/**
 * Two assets of one pool in two ops. Each marks itself running, then watches for the other until
 * it sees it running, the other has finished, or `windowMs` passed: it returns whether it saw the
 * other running. Without a limit the two meet as soon as both started, so their window is a
 * generous deadline for a busy machine; in the limit-1 pool the first always waits its whole window.
 */
const pooled = (name, other, pool, windowMs) =>
  asset({
    key: name,
    group: name,
    pool,
    compute: async () => {
      const dir = control();
      const mine = join(dir, `${name}.running`);
      for (const stale of [`${name}.done`, `${name}.saw`]) rmSync(join(dir, stale), { force: true });
      writeFileSync(mine, "");
      let overlapped = false;
      const deadline = Date.now() + windowMs;
      while (!overlapped && Date.now() < deadline && !existsSync(join(dir, `${other}.done`))) {
        overlapped = existsSync(join(dir, `${other}.running`));
        await sleep(100);
      }
      // Stay until the other one has seen this one too (each says so in <name>.saw).
      if (overlapped) {
        writeFileSync(join(dir, `${name}.saw`), "");
        while (Date.now() < deadline && !existsSync(join(dir, `${other}.saw`))) await sleep(100);
      }
      rmSync(mine, { force: true });
      writeFileSync(join(dir, `${name}.done`), "");
      return values("overlapped", [overlapped ? 1 : 0]);
    },
  });
// The test sets the instance's limit of warehouse to 1 and none for open.
export const poolA = pooled("pool_a", "pool_b", "warehouse", 10_000);
export const poolB = pooled("pool_b", "pool_a", "warehouse", 10_000);
export const openA = pooled("open_a", "open_b", "open", 60_000);
export const openB = pooled("open_b", "open_a", "open", 60_000);

/** Stops its own process (SIGSTOP): neither core's limit nor Node's watchdog can act, only Dagster's step launcher. */
export const wedged = asset({
  key: "wedged",
  group: "wedged",
  timeoutSeconds: 2,
  compute: () => {
    writeFileSync(join(control(), "wedged.pid"), String(process.pid));
    process.kill(process.pid, "SIGSTOP");
    return values("never", [1]);
  },
});

export default definitions({
  checks: [underLimits],
  assets: [gate, limits, blocked, afterBlocked, soft, afterSoft, days, poolA, poolB, openA, openB, wedged],
  pools: { warehouse: { limit: 1, description: "one session at a time" }, open: { limit: 2 } },
});
