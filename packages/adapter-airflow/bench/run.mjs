// Benchmarks for @baton/adapter-airflow (not a test): run with `pnpm --filter @baton/adapter-airflow bench`
// after building. Prints:
//   1. parse time of the emitted DAG file for 1,000 assets vs a hand-written equivalent DAG file;
//   2. per-task overhead of a Node step vs a native Python+polars task doing the same transform,
//      both run by the same Airflow (dag.test(), task durations read from Airflow's DB): cold
//      (BATON_WORKER=off, a Node process per step) and warm (the step worker; its first step apart).
import { cpSync, mkdirSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadDefinitions } from "@baton/core";
import { buildTarget, corePythonWheel } from "@baton/core/build";
import { ensurePythonEnv } from "@baton/testing";
import { adapter, airflowPythonWheel } from "../dist/index.js";
import { AirflowDriver, airflowEnvironment, migrate } from "../dist/testing/airflow.js";

const here = fileURLToPath(new URL(".", import.meta.url));
const packageRoot = join(here, "..");
const python = ensurePythonEnv({ name: "airflow-bench", requirements: join(here, "..", "python", "requirements-bench.txt"), wheels: [corePythonWheel(), airflowPythonWheel()] });
// Each benchmark project is a build (core's buildTarget) in a sub-folder of one DAGs folder.
const build = (definitionsFile, outDir, extra = {}) => buildTarget(adapter, { projectRoot: packageRoot, definitionsFile, outDir, ...extra });
const root = mkdtempSync(join(tmpdir(), "baton-airflow-bench-"));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (s) => `${(s * 1000).toFixed(0)} ms`;

// --- 1. parse time -------------------------------------------------------------------------
const wide = join(here, "wide-definitions.mjs");
// Outside the DAGs folder: each dag.test() below parses that whole folder again (the driver's bag(refresh=True)).
const emitted = join(root, "parse", "emitted");
const hand = join(root, "parse", "hand");
mkdirSync(hand, { recursive: true });
const defs = await loadDefinitions(wide);
await build(wide, emitted);
cpSync(join(here, "handwritten_dags.py"), join(hand, "handwritten_dags.py"));

// --- 2. overhead setup ---------------------------------------------------------------------
const overheadModule = join(here, "overhead-definitions.mjs");
const storage = join(root, "storage");
const baton = join(root, "dags", "overhead");
await build(overheadModule, baton, { storage, rawOptions: { dagIdPrefix: "overhead" } });
cpSync(join(here, "native_dags.py"), join(root, "dags", "native_dags.py"));

const env = { ...airflowEnvironment(root, join(root, "dags")), BATON_BENCH_STORAGE: storage };
await migrate(python, env);
const driver = new AirflowDriver(python, env, join(root, "driver.log"));
await driver.start();
try {
  const parse = async (path, bundlePath) => {
    const r = await driver.request("parse_time", { path, bundlePath, repeat: 7 });
    if (r.importErrors) throw new Error(JSON.stringify(r.importErrors));
    return r;
  };
  const e = await parse(join(emitted, "baton_dags.py"), emitted);
  const h = await parse(join(hand, "handwritten_dags.py"), hand);
  console.log(`\n1. DAG file parse time, ${defs.assets.length} assets (median of 7 DagBag imports)`);
  console.log(`   emitted (baton_dags.py):   ${ms(e.seconds)}  — ${e.dags} DAGs, ${e.tasks} tasks`);
  console.log(`   hand-written equivalent:   ${ms(h.seconds)}  — ${h.dags} DAGs, ${h.tasks} tasks`);
  console.log(`   ratio emitted / hand-written: ${(e.seconds / h.seconds).toFixed(2)}`);

  await driver.request("sync");
  const runs = Number(process.env.BATON_BENCH_RUNS ?? 5);
  // Cold: a Node process per step (BATON_WORKER=off for that run only: the driver restores its environment).
  const cold = { BATON_WORKER: "off" };
  // Warm: the step worker, in a directory of its own so that the phase's first step starts it; an idle time
  // above the gap between two dag.test() runs on a busy machine (each parses the DAG file again: up to 30 s),
  // below the default 5 minutes the worker would outlive the bench by.
  const warm = { BATON_WORKER_DIR: mkdtempSync(join(tmpdir(), "baton-workers-")), BATON_WORKER_IDLE_SECONDS: "120" };
  const task = async (dagId, conf, env) => {
    const r = await driver.request("dag_test", { dagId, ...(conf ? { conf } : {}), env });
    if (r.state !== "success") throw new Error(`${dagId} failed; see ${driver.logFile}`);
    return r.tasks.customer_totals?.durationSeconds;
  };
  const baton = (env) => task("overhead_assets", { assets: ["customer_totals"] }, env);
  const nativeTask = () => task("native_overhead", undefined, {});
  // Warm-up, not counted: the inputs, and each task's first run in this process (imports, polars).
  await task("overhead_assets", { assets: ["orders"] }, cold);
  await baton(cold);
  await nativeTask();
  const phase = async (env) => {
    const first = await baton(env);
    const node = [];
    const native = [];
    for (let i = 0; i < runs; i++) {
      node.push(await baton(env));
      native.push(await nativeTask());
    }
    return { first, node, native };
  };
  const c = await phase(cold);
  const w = await phase(warm);
  // How each Baton task ran, from its task log (baton_airflow/operators.py names the step's Node process once).
  const log = readFileSync(driver.logFile, "utf8");
  const count = (re) => (log.match(re) ?? []).length;
  const how = `${count(/baton step pid \d+ \(its own process\)/g)} in their own process, ${count(/baton worker pid \d+ \(started\)/g)} starting a worker, ${count(/baton worker pid \d+ \(warm\)/g)} on a running worker`;
  const list = (xs) => `[${xs.map(ms).join(", ")}]`;
  const goal = (s) => (s <= 0.025 ? "met" : "NOT met");
  console.log(`\n2. Per-task time for the same transform (200,000 rows → 1,000 groups), median of ${runs} dag.test() runs (task durations from Airflow's DB)`);
  console.log(`   ${"native Python+polars task:".padEnd(46)} ${ms(median(w.native))}   ${list(w.native)}`);
  console.log(`   ${"Baton task, cold (BATON_WORKER=off):".padEnd(46)} ${ms(median(c.node))}   ${list(c.node)}`);
  console.log(`   ${"Baton task, warm: first (starts the worker):".padEnd(46)} ${ms(w.first)}`);
  console.log(`   ${"Baton task, warm: steady state:".padEnd(46)} ${ms(median(w.node))}   ${list(w.node)}`);
  console.log(`   Baton tasks (task logs): ${how}`);
  console.log(`   added per task over native: cold ${ms(median(c.node) - median(c.native))} (ratio ${(median(c.node) / median(c.native)).toFixed(2)}), warm first ${ms(w.first - median(w.native))}, warm steady ${ms(median(w.node) - median(w.native))} (ratio ${(median(w.node) / median(w.native)).toFixed(2)}; goal ≤ 25 ms: ${goal(median(w.node) - median(w.native))})\n`);
  console.log(JSON.stringify({ airflowOverhead: { runs, cold: c, warm: w } }));
  // The line bench/run.mjs's summary reads (the same shape from each orchestrator's bench).
  const summary = { orchestrator: "Airflow", nativeMs: median(w.native) * 1000, coldNativeMs: median(c.native) * 1000, coldMs: median(c.node) * 1000, warmFirstMs: w.first * 1000, warmMs: median(w.node) * 1000 };
  console.log(JSON.stringify({ stepOverhead: summary }));
} finally {
  await driver.stop();
}
