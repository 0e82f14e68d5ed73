import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { asset, dailyPartitions, definitions } from "@baton/core";
import { generateCustomers, generateEvents } from "@baton/testing/fixtures";

/*
 * Definitions for what only Prefect shows (native.integration.test.ts): tag concurrency limits,
 * one task run per partition, timeouts and task caching. The control folder is NATIVE_CONTROL_DIR
 * (process.env, not a resource: a cached asset has no resources).
 */
const control = () => {
  const dir = process.env.NATIVE_CONTROL_DIR ?? ".native-control";
  mkdirSync(dir, { recursive: true });
  return dir;
};

/** Marks `name` started, then waits up to `seconds` for one of `others` to have started too. */
async function meet(name: string, others: readonly string[], seconds: number): Promise<void> {
  const dir = control();
  writeFileSync(join(dir, `${name}.started`), `${process.pid}\n`);
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline && !others.some((o) => existsSync(join(dir, `${o}.started`)))) await new Promise((r) => setTimeout(r, 100));
}

/** Two assets that would meet if they ran at once: in the limit-1 pool they never do. */
const pooled = (name: string, other: string) =>
  asset({ key: ["pooled", name], group: "pools", pool: "solo", compute: async () => (await meet(`pooled-${name}`, [`pooled-${other}`], 3), generateCustomers({ count: 2 })) });
/** The same without a pool: they run at once. */
const free = (name: string, other: string) =>
  asset({ key: ["free", name], group: "pools", compute: async () => (await meet(`free-${name}`, [`free-${other}`], 20), generateCustomers({ count: 2 })) });

const DAYS = dailyPartitions({ start: "2024-01-01", end: "2024-01-11" });

/** Daily, and each day's partition has its own row count (the day of the month): a backfill's
 * partitions wait for a sibling, so they show they ran at once. */
const days = asset({
  key: "days",
  group: "partitions",
  description: "One partition per day, run one task run each",
  partitions: DAYS,
  compute: async (_i, ctx) => {
    const key = ctx.partitionKey!;
    writeFileSync(join(control(), `day-${key}.started`), "");
    const started = () => readdirSync(control()).filter((f) => f.startsWith("day-")).length;
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && started() < 2) await new Promise((r) => setTimeout(r, 100));
    return generateEvents(key, { rows: Number(key.slice(-2)) });
  },
});

/** Fails for 2024-01-02 only; its downstream reads it partition by partition (identity). */
const fragile = asset({
  key: "fragile",
  group: "partitions",
  partitions: DAYS,
  compute: (_i, ctx) => {
    if (ctx.partitionKey === "2024-01-02") throw new Error("fragile: 2024-01-02 is bad");
    return generateEvents(ctx.partitionKey!, { rows: 2 });
  },
});
const afterFragile = asset({ key: "after_fragile", group: "partitions", partitions: DAYS, inputs: { fragile }, compute: ({ fragile }) => fragile.head(1) });

/** Blocks Node's event loop past its timeoutSeconds: only the watchdog, or Prefect's limit, stops it. */
const hangs = asset({
  key: "hangs",
  group: "timeouts",
  timeoutSeconds: 2,
  compute: () => {
    writeFileSync(join(control(), "hangs.started"), `${process.pid}\n`);
    for (;;) {
      // a synchronous spin: nothing inside this process can interrupt it
    }
  },
});

/** Upstream of the cached asset: its data is the number in NATIVE_CONTROL_DIR/source-count. */
const source = asset({
  key: "source",
  group: "cache",
  compute: () => {
    const file = join(control(), "source-count");
    return generateCustomers({ count: existsSync(file) ? Number(readFileSync(file, "utf8")) : 3 });
  },
});

/** Cached by its codeVersion and its input's data version (the build option `cache`). */
const derived = asset({
  key: "derived",
  group: "cache",
  codeVersion: "1",
  inputs: { source },
  compute: ({ source }) => {
    writeFileSync(join(control(), `derived.${Date.now()}.${process.pid}.ran`), "");
    return source.head(2);
  },
});

export default definitions({
  assets: [pooled("a", "b"), pooled("b", "a"), free("a", "b"), free("b", "a"), days, fragile, afterFragile, hangs, source, derived],
  pools: { solo: { limit: 1, description: "one at a time" } },
});
