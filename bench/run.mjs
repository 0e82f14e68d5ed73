// Runs every benchmark one after the other in one run, so their figures are taken on the same
// machine state: core's (this folder) and each adapter's own `bench` script. Each bench's output is
// shown as it runs; the per-step overhead lines of the three orchestrators' benches are gathered into
// one table at the end (bench/README.md says how to read it).
import { spawn } from "node:child_process";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const env = { ...process.env, BATON_VENV_ROOT: process.env.BATON_VENV_ROOT ?? join(root, ".venvs") };
const benches = [
  ["core: embedded executor and customer-metrics at 1M orders", ["pnpm", "exec", "tsx", "core.ts"], join(root, "bench")],
  ["core: embedded executor at 1k, 10k and 100k assets next to Dagster's in-process materialize() at 1k", ["pnpm", "exec", "tsx", "executor-scale.ts"], join(root, "bench")],
  ["core: customer-metrics compute at 1M orders, nodejs-polars eager and lazy next to Python polars", ["pnpm", "exec", "tsx", "customer-metrics.ts"], join(root, "bench")],
  ["core: IO store write and read of a 1M-row output, local and s3 (moto) side by side", ["pnpm", "exec", "tsx", "storage.ts"], join(root, "bench")],
  ["core: peak RSS writing a 20M-row output, the old write path next to the store's, local and s3 (moto)", ["pnpm", "exec", "tsx", "memory.ts"], join(root, "bench")],
  ...["dagster", "airflow", "prefect"].map((o) => [`adapter-${o}`, ["pnpm", "--filter", `@baton/adapter-${o}`, "run", "bench"], root]),
];

/** Runs one bench with its output shown as it comes; resolves to its exit code and its stdout. */
function run(cmd, cwd) {
  return new Promise((resolve) => {
    const child = spawn(cmd[0], cmd.slice(1), { cwd, env, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (chunk) => {
      process.stdout.write(chunk);
      out += chunk;
    });
    child.on("close", (code) => resolve({ code, out }));
  });
}

let failed = 0;
const overhead = [];
const started = performance.now();
for (const [name, cmd, cwd] of benches) {
  console.log(`\n=== ${name} ===`);
  const r = await run(cmd, cwd);
  if (r.code !== 0) {
    failed++;
    console.log(`=== ${name}: FAILED (exit ${r.code}) ===`);
  }
  for (const line of r.out.split("\n")) if (line.startsWith('{"stepOverhead":')) overhead.push(JSON.parse(line).stepOverhead);
}

if (overhead.length) {
  const ms = (x) => `${x.toFixed(0)} ms`;
  const added = (x, native) => `${x >= native ? "+" : "−"}${ms(Math.abs(x - native))} (${(x / native).toFixed(1)}×)`.padEnd(18);
  console.log(`\n=== per orchestrated step, added over the native Python+polars peer in the same run (goal: ≤ 25 ms with the worker on) ===`);
  console.log(`${"".padEnd(9)} ${"native".padStart(7)}   ${"cold: BATON_WORKER=off".padEnd(24)} ${"warm: first step".padEnd(18)} ${"warm: steady state".padEnd(18)} goal`);
  for (const o of overhead)
    console.log(
      `${o.orchestrator.padEnd(9)} ${ms(o.nativeMs).padStart(7)}   ${added(o.coldMs, o.coldNativeMs).padEnd(24)} ${added(o.warmFirstMs, o.nativeMs)} ${added(o.warmMs, o.nativeMs)} ${o.warmMs - o.nativeMs <= 25 ? "met" : "not met"}`,
    );
  console.log("(cold is against the native task measured in the cold phase, warm against the one in the warm phase)");
}
console.log(`\n${benches.length - failed} of ${benches.length} benches ran in ${((performance.now() - started) / 60_000).toFixed(1)} min${failed ? `; ${failed} FAILED` : ""}`);
process.exit(failed ? 1 : 0);
