#!/usr/bin/env node
// Builds the Python distribution of one npm package (`node ../../scripts/build-wheel.mjs` from the
// package folder): `uv build --wheel` of ./python into ./python/dist, replacing older wheels, so the
// npm package ships exactly one wheel of its own version. uv_build wheels are reproducible.
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";

const project = resolve(process.argv[2] ?? "python");
const dist = join(project, "dist");
rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });
const uv = process.env.BATON_UV ?? "uv";
try {
  execFileSync(uv, ["build", "--quiet", "--wheel", "--out-dir", dist, project], {
    stdio: ["ignore", "inherit", "inherit"],
    env: { ...process.env, SOURCE_DATE_EPOCH: "315532800" },
  });
} catch (e) {
  console.error(`✘ could not build the wheel of ${project}: ${e.message}\n  fix: install uv (pip install uv); scripts/setup.sh does`);
  process.exit(1);
}
const wheels = readdirSync(dist).filter((f) => f.endsWith(".whl"));
if (wheels.length !== 1) {
  console.error(`✘ expected one wheel in ${dist}, found ${wheels.length}`);
  process.exit(1);
}
