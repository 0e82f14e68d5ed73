#!/usr/bin/env node
// Per-task overhead of the Node step versus a native Python+polars Prefect task (not a test).
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
  env: { ...process.env, BATON_STORAGE: join(root, "storage"), BATON_NODE: process.execPath, PREFECT_HOME: join(root, "prefect-home"), PREFECT_API_URL: "", PREFECT_LOGGING_LEVEL: "WARNING", PREFECT_SERVER_ANALYTICS_ENABLED: "false" },
  stdio: ["ignore", "pipe", "inherit"],
  maxBuffer: 64 * 1024 * 1024,
});
const line = output.split("\n").find((l) => l.startsWith("@@bench "));
if (!line) throw new Error(`the bench printed no result:\n${output}`);
const r = JSON.parse(line.slice("@@bench ".length));
const fmt = (x) => `${x.toFixed(0).padStart(6)} ms`;
console.log(`Prefect task overhead, customer_metrics (fixtures), ${r.iterations} iterations, one flow, ${process.platform}/${process.arch}`);
console.log(`  Baton task (node step)       median ${fmt(r.node.median_ms)}  mean ${fmt(r.node.mean_ms)}  min ${fmt(r.node.min_ms)}`);
console.log(`    of which the asset in Node  median ${fmt(r.node_compute.median_ms)}  (read inputs, compute, write Parquet, checks)`);
console.log(`  the same step without Prefect median ${fmt(r.bare_step.median_ms)}  (node process start + load definitions + asset)`);
console.log(`  native python+polars task    median ${fmt(r.python.median_ms)}  mean ${fmt(r.python.mean_ms)}  min ${fmt(r.python.min_ms)}`);
console.log(`    of which polars compute    median ${fmt(r.python_compute.median_ms)}`);
console.log(`  added per task by the Node step: ${fmt(r.node.median_ms - r.python.median_ms)} (median), ratio ${(r.node.median_ms / r.python.median_ms).toFixed(1)}x`);
