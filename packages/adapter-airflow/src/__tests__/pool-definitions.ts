// The celery test's second project: assets that hold a worker for a while, two of them in a pool of one
// slot, and a sensor whose evaluation always fails (the sensor DAG must stop, not restart forever).
import { setTimeout as sleep } from "node:timers/promises";
import { asset, definitions, sensor } from "@baton/core";

/** Long enough that two tasks started together on the two workers certainly overlap. */
const HOLD_MS = 8_000;

const held = (key: string, pool?: string) =>
  asset({
    key,
    group: "held",
    output: "none",
    ...(pool === undefined ? {} : { pool }),
    compute: async () => {
      await sleep(HOLD_MS);
    },
  });

export const pooledA = held("pooled_a", "solo");
export const pooledB = held("pooled_b", "solo");
export const freeA = held("free_a");
export const freeB = held("free_b");

export const alwaysFails = sensor({
  name: "always_fails",
  selection: "free_a",
  minimumIntervalSeconds: 1,
  evaluate: () => {
    throw new Error("always_fails: the source is unreachable");
  },
});

export default definitions({
  assets: [pooledA, pooledB, freeA, freeB],
  sensors: [alwaysFails],
  pools: { solo: { limit: 1, description: "one warehouse session" } },
});
