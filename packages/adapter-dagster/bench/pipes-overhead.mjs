#!/usr/bin/env node
// Dagster Pipes overhead: the same transform as a native Python+polars Dagster asset and as a Baton
// asset run in Node through Pipes, in one Dagster, one run. Not a test: it prints figures.
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

const out = execFileSync(python, [join(here, "runner.py"), project.outDir, String(rounds)], {
  env: { ...process.env, BATON_STORAGE: join(work, "storage"), DAGSTER_HOME: work },
  encoding: "utf8",
  stdio: ["ignore", "pipe", "ignore"],
  maxBuffer: 64 * 1024 * 1024,
});
const line = out.split("\n").find((l) => l.startsWith("@@bench "));
if (!line) throw new Error("the benchmark runner printed no result");
const r = JSON.parse(line.slice("@@bench ".length));
const fmt = (ms) => `${ms.toFixed(0).padStart(6)} ms`;
const row = (name, x) => console.log(`  ${name.padEnd(32)} ${fmt(x.wall)}   ${fmt(x.step)}   ${fmt(x.compute)}`);
console.log(`Dagster Pipes overhead (median of ${rounds} runs; 200k-row group-by written as Parquet)`);
console.log(`  ${"".padEnd(32)} ${"run wall".padStart(9)}   ${"step".padStart(9)}   ${"transform".padStart(9)}`);
row("native Python + polars asset", r.native_summary);
row("Baton asset in Node via Pipes", r.baton_summary);
// What Pipes and a Node process add to a step, beyond the transform itself, compared with the native step.
const overhead = r.baton_summary.step - r.baton_summary.compute - (r.native_summary.step - r.native_summary.compute);
console.log(`  added overhead per step: ${overhead.toFixed(0)} ms (goal < 500 ms: ${overhead < 500 ? "met" : "NOT met"}); run wall difference: ${(r.baton_summary.wall - r.native_summary.wall).toFixed(0)} ms`);
