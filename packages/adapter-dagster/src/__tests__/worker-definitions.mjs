// Definitions for the warm worker's fault tests (worker.integration.test.ts). Each compute says
// which process ran it (process.pid: the warm worker's, or a one-off step's) in a control folder
// or its output, so the test can kill that process, tell two slots apart and see a new worker.
// The test copies this file into the fixture project and rewrites BUILD for its rebuild case.
import pl from "nodejs-polars";
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { asset, definitions, env, resource } from "@baton/core";

/** Rewritten by the test before it rebuilds the project: the new code's output says "v2". */
const BUILD = "v1";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const control = resource({
  config: { dir: env("WORKER_CONTROL_DIR") },
  create: ({ dir }) => {
    mkdirSync(dir, { recursive: true });
    return { dir };
  },
});
const row = (values) => pl.DataFrame(Object.fromEntries(Object.entries(values).map(([k, v]) => [k, [v]])));

/**
 * Appends its pid to held.pids (one line per attempt), then waits for held.release. One retry: an
 * attempt whose worker was killed is retried by Dagster, on a fresh worker.
 */
export const held = asset({
  key: "held",
  group: "held",
  resources: ["control"],
  retry: { maxRetries: 1, delaySeconds: 0 },
  compute: async (_i, ctx) => {
    const { dir } = ctx.resources.control;
    appendFileSync(join(dir, "held.pids"), `${process.pid}\n`);
    const deadline = Date.now() + 180_000;
    while (Date.now() < deadline && !existsSync(join(dir, "held.release"))) await sleep(100);
    if (!existsSync(join(dir, "held.release"))) throw new Error("held was never released");
    return row({ pid: process.pid });
  },
});

/**
 * Two assets in two Dagster runs launched at once: each marks itself running and waits until it
 * sees the other running (a deadline for a busy machine, not a window), then until the other has
 * seen it too. On one worker at a time they could never meet: each would fail at its deadline.
 */
const meeting = (name, other) =>
  asset({
    key: name,
    group: name,
    resources: ["control"],
    compute: async (_i, ctx) => {
      const { dir } = ctx.resources.control;
      writeFileSync(join(dir, `${name}.running`), `${process.pid}\n`);
      const deadline = Date.now() + 180_000;
      const wait = async (file) => {
        while (!existsSync(join(dir, file))) {
          if (Date.now() > deadline) throw new Error(`${name} never saw ${file}: the two runs did not run at once`);
          await sleep(100);
        }
      };
      await wait(`${other}.running`);
      writeFileSync(join(dir, `${name}.saw`), "");
      await wait(`${other}.saw`);
      return row({ pid: process.pid });
    },
  });
export const left = meeting("left", "right");
export const right = meeting("right", "left");

/** Which build's code ran, and in which process. */
export const version = asset({ key: "version", group: "version", compute: () => row({ build: BUILD, pid: process.pid }) });

export default definitions({ assets: [held, left, right, version], resources: { control } });
