#!/usr/bin/env node
// Dagster Pipes overhead: the same transform as a native Python+polars Dagster asset and as a Baton
// asset run in Node through Pipes, in one Dagster, one run: cold (BATON_WORKER=off, a Node process per
// step) and warm (the step worker), the worker's first step apart. Not a test: it prints figures.
//   node bench/pipes-overhead.mjs [rounds]      (build the package first)
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildTarget } from "@baton/core/build";
import { ensurePythonEnv } from "@baton/testing";
import { adapter, dagsterWheel } from "../dist/index.js";

const here = fileURLToPath(new URL(".", import.meta.url));
const rounds = Number(process.argv[2] ?? 5);
const module = join(here, "definitions.mjs");
const work = mkdtempSync(join(tmpdir(), "baton-dagster-bench-"));
// This package is the project: its node_modules hold what the definitions import, and it resolves itself (the step package).
const project = await buildTarget(adapter, { projectRoot: join(here, ".."), definitionsFile: module, outDir: join(work, "project") });
const wheels = readdirSync(join(here, "..", "..", "core", "python", "dist")).filter((f) => f.endsWith(".whl")).map((f) => join(here, "..", "..", "core", "python", "dist", f));
const { python } = ensurePythonEnv({ name: "dagster-bench", requirements: join(here, "..", "python", "requirements-bench.txt"), wheels: [...wheels, dagsterWheel()] });

let out;
try {
  out = execFileSync(python, [join(here, "runner.py"), project.outDir, String(rounds)], {
    // An idle time well above the gap between two steps here, below the default 5 minutes the worker would outlive the bench by.
    env: { ...process.env, BATON_STORAGE: join(work, "storage"), DAGSTER_HOME: work, BATON_WORKER_IDLE_SECONDS: "120" },
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    maxBuffer: 256 * 1024 * 1024,
  });
} catch (error) {
  // Dagster logs every event to stderr: only its end says why the runner failed.
  console.error(String(error.stderr ?? "").split("\n").slice(-40).join("\n"));
  throw new Error("the benchmark runner failed (its stderr's end above)", { cause: error });
}
const line = out.split("\n").find((l) => l.startsWith("@@bench "));
if (!line) throw new Error("the benchmark runner printed no result");
const { cold, warm } = JSON.parse(line.slice("@@bench ".length));
const ms = (x) => `${x.toFixed(0).padStart(6)} ms`;
// What the runtime adds beyond the transform itself (the nodejs-polars vs polars gap set aside).
const beyond = (x) => x.step - x.compute;
const row = (name, x) => console.log(`  ${name.padEnd(46)} ${ms(x.step)}   ${ms(x.compute)}   ${ms(beyond(x))}`);
console.log(`Dagster Pipes overhead per step (median of ${rounds} runs; 200k-row group-by written as Parquet; step = STEP_START to STEP_SUCCESS)`);
console.log(`  ${"".padEnd(46)} ${"step".padStart(9)}   ${"transform".padStart(9)}   ${"beyond it".padStart(9)}`);
row("native Python + polars asset", warm.native_summary);
row("Baton, cold (BATON_WORKER=off)", cold.baton_summary);
row("Baton, warm: first step (starts the worker)", warm.first);
row("Baton, warm: steady state", warm.baton_summary);
// Each phase against the native asset measured in that phase.
const added = (b, n) => b.step - n.step;
const goal = (x) => (x <= 25 ? "met" : "NOT met");
console.log(`  added per step over native: cold ${added(cold.baton_summary, cold.native_summary).toFixed(0)} ms (${(cold.baton_summary.step / cold.native_summary.step).toFixed(2)}×), warm first step ${added(warm.first, warm.native_summary).toFixed(0)} ms, warm steady ${added(warm.baton_summary, warm.native_summary).toFixed(0)} ms (${(warm.baton_summary.step / warm.native_summary.step).toFixed(2)}×; goal ≤ 25 ms: ${goal(added(warm.baton_summary, warm.native_summary))})`);
console.log(`  beyond the transform, over native's: cold ${(beyond(cold.baton_summary) - beyond(cold.native_summary)).toFixed(0)} ms, warm steady ${(beyond(warm.baton_summary) - beyond(warm.native_summary)).toFixed(0)} ms; run wall difference, warm: ${(warm.baton_summary.wall - warm.native_summary.wall).toFixed(0)} ms`);
console.log(JSON.stringify({ dagsterOverhead: { rounds, cold, warm } }));
// The line bench/run.mjs's summary reads (the same shape from each orchestrator's bench).
const summary = { orchestrator: "Dagster", nativeMs: warm.native_summary.step, coldNativeMs: cold.native_summary.step, coldMs: cold.baton_summary.step, warmFirstMs: warm.first.step, warmMs: warm.baton_summary.step };
console.log(JSON.stringify({ stepOverhead: summary }));
