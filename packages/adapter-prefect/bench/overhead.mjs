#!/usr/bin/env node
// Per-task overhead of the Node step versus a native Python+polars Prefect task (not a test): cold
// (BATON_WORKER=off, a Node process per task) and warm (the step worker; its first task apart).
//   pnpm --filter @baton/adapter-prefect build && node packages/adapter-prefect/bench/overhead.mjs [iterations]
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import { buildTarget } from "@baton/core/build";
import { ensurePythonEnv } from "@baton/testing";
import { fixtureModulePath } from "@baton/testing/fixtures";

const here = fileURLToPath(new URL(".", import.meta.url));
const dist = join(here, "..", "dist", "cli.js");
if (!existsSync(dist)) {
  console.error("build the adapter first: pnpm --filter @baton/adapter-prefect build");
  process.exit(1);
}
const { adapter } = await import(dist);
const iterations = Number(process.argv[2] ?? 10);

const root = mkdtempSync(join(tmpdir(), "baton-prefect-bench-"));
const module = fixtureModulePath();
// The fixtures' package is the project: its node_modules hold what the build's runtime copies.
const testingRoot = join(createRequire(import.meta.url).resolve("@baton/testing/package.json"), "..");
const project = await buildTarget(adapter, { projectRoot: testingRoot, definitionsFile: module, outDir: join(root, "project"), rawOptions: { flowName: "baton-bench" } });
const wheels = readdirSync(join(project.outDir, "wheels")).map((w) => join(project.outDir, "wheels", w));
const env = ensurePythonEnv({ name: "prefect-bench", requirements: join(here, "..", "python", "requirements-bench.txt"), wheels });

const output = execFileSync(env.python, [join(here, "overhead.py"), project.outDir, String(iterations)], {
  encoding: "utf8",
  env: { ...process.env, BATON_STORAGE: join(root, "storage"), BATON_NODE: process.execPath, PREFECT_HOME: join(root, "prefect-home"), PREFECT_API_URL: "", PREFECT_LOGGING_LEVEL: "WARNING", PREFECT_SERVER_ANALYTICS_ENABLED: "false", BATON_WORKER_IDLE_SECONDS: "120" },
  stdio: ["ignore", "pipe", "inherit"],
  maxBuffer: 64 * 1024 * 1024,
});
const line = output.split("\n").find((l) => l.startsWith("@@bench "));
if (!line) throw new Error(`the bench printed no result:\n${output}`);
const r = JSON.parse(line.slice("@@bench ".length));
const fmt = (x) => `${x.toFixed(0).padStart(6)} ms`;
const { cold, warm } = r;
const goal = (x) => (x <= 25 ? "met" : "NOT met");
console.log(`Prefect task overhead, customer_metrics (fixtures), median of ${r.iterations} iterations per phase, one flow, ${process.platform}/${process.arch}`);
console.log(`  native python+polars task                    ${fmt(warm.python.median_ms)}   (polars compute ${fmt(warm.python_compute.median_ms)})`);
console.log(`  Baton task, cold (BATON_WORKER=off)          ${fmt(cold.node.median_ms)}   (the asset in Node ${fmt(cold.node_compute.median_ms)}; the step without Prefect ${fmt(cold.bare_step.median_ms)})`);
console.log(`  Baton task, warm: first (starts the worker)  ${fmt(warm.first_ms)}   (the asset in Node ${fmt(warm.first_compute_ms)})`);
console.log(`  Baton task, warm: steady state               ${fmt(warm.node.median_ms)}   (the asset in Node ${fmt(warm.node_compute.median_ms)}; the step without Prefect ${fmt(warm.bare_step.median_ms)})`);
// Each phase against the native task measured in that phase.
const added = (p) => p.node.median_ms - p.python.median_ms;
console.log(`  added per task over native: cold ${fmt(added(cold))} (${(cold.node.median_ms / cold.python.median_ms).toFixed(1)}×), warm first ${fmt(warm.first_ms - warm.python.median_ms)}, warm steady ${fmt(added(warm))} (${(warm.node.median_ms / warm.python.median_ms).toFixed(1)}×; goal ≤ 25 ms: ${goal(added(warm))})`);
// Beyond the transform: what Prefect and the step add around the asset's own work, on each side.
const beyond = (p) => p.node.median_ms - p.node_compute.median_ms - (p.python.median_ms - p.python_compute.median_ms);
console.log(`  beyond the transform, over native's: cold ${fmt(beyond(cold))}, warm steady ${fmt(beyond(warm))}`);
console.log(JSON.stringify({ prefectOverhead: r }));
// The line bench/run.mjs's summary reads (the same shape from each orchestrator's bench).
const summary = { orchestrator: "Prefect", nativeMs: warm.python.median_ms, coldNativeMs: cold.python.median_ms, coldMs: cold.node.median_ms, warmFirstMs: warm.first_ms, warmMs: warm.node.median_ms };
console.log(JSON.stringify({ stepOverhead: summary }));
