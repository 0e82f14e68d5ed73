// Scale benchmark for @baton/adapter-airflow (not a test; `pnpm --filter @baton/adapter-airflow bench`
// after building). A project of BATON_SCALE_ASSETS assets (default 20,000; src/__tests__/scale-definitions.mjs)
// parsed as Airflow's DAG processor parses a file (python/harness/parse_dag_file.py: DagBag import,
// then serialization), against hand-written DAG files of the same project (bench/handwritten_scale_dags.py):
// one DAG of every asset as Baton emits it, and one DAG per group chained through Airflow assets.
// Airflow's import timeout is lifted here so that a file over it is still measured; the ratio is
// what the benchmark reports (medians; Airflow refuses an import over [core] dagbag_import_timeout, 30 s).
import { execFile } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { buildTarget, corePythonWheel } from "@baton/core/build";
import { ensurePythonEnv } from "@baton/testing";
import { adapter, airflowPythonWheel } from "../dist/index.js";
import { airflowEnvironment } from "../dist/testing/airflow.js";

const run = promisify(execFile);
const here = fileURLToPath(new URL(".", import.meta.url));
const packageRoot = join(here, "..");
const count = Number(process.env.BATON_SCALE_ASSETS ?? 20_000);
const repeat = Number(process.env.BATON_BENCH_RUNS ?? 3);
const python = ensurePythonEnv({ name: "airflow-bench", requirements: join(packageRoot, "python", "requirements-bench.txt"), wheels: [corePythonWheel(), airflowPythonWheel()] });
const root = mkdtempSync(join(tmpdir(), "baton-airflow-scale-bench-"));

process.env.BATON_SCALE_ASSETS = String(count);
const emitted = join(root, "emitted");
await buildTarget(adapter, { projectRoot: packageRoot, definitionsFile: join(packageRoot, "src", "__tests__", "scale-definitions.mjs"), outDir: emitted });
const hand = join(root, "hand");
mkdirSync(hand, { recursive: true });
copyFileSync(join(here, "handwritten_scale_dags.py"), join(hand, "handwritten_scale_dags.py"));

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
async function parse(file, bundle, runs, extra = {}) {
  const env = { ...airflowEnvironment(root, bundle), AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT: "0", BATON_SCALE_ASSETS: String(count), ...extra };
  mkdirSync(env.AIRFLOW_HOME, { recursive: true });
  const out = join(root, "parsed.json");
  await run(python.bin("python"), [join(packageRoot, "python", "harness", "parse_dag_file.py"), file, bundle, out, String(runs)], { env, maxBuffer: 256 * 1024 * 1024 });
  const r = JSON.parse(readFileSync(out, "utf8"));
  if (Object.keys(r.importErrors).length) throw new Error(JSON.stringify(r.importErrors));
  const tasks = Object.values(r.dags).reduce((n, d) => n + Object.keys(d).length, 0);
  return {
    importS: median(r.importSeconds),
    serializeS: median(r.serializeSeconds),
    importCpu: median(r.importCpuSeconds),
    serializeCpu: median(r.serializeCpuSeconds),
    dags: Object.keys(r.dags).length,
    tasks,
  };
}

const e = await parse(join(emitted, "baton_dags.py"), emitted, repeat);
// The hand-written single DAG is slow (quadratic, see dags.py _LargeDAG): measured once.
const h = await parse(join(hand, "handwritten_scale_dags.py"), hand, 1);
const s = await parse(join(hand, "handwritten_scale_dags.py"), hand, repeat, { BENCH_LAYOUT: "split" });
const line = (name, r) =>
  `   ${name.padEnd(44)} import ${r.importS.toFixed(1).padStart(6)} s (CPU ${r.importCpu.toFixed(1)} s), serialize ${r.serializeS.toFixed(1).padStart(5)} s (CPU ${r.serializeCpu.toFixed(1)} s) — ${r.dags} DAGs, ${r.tasks} tasks${r.importS > 30 ? "  (over the 30 s default: not loaded)" : ""}`;
// CPU time is the fair comparison on a machine busy with other work; Airflow's timeout is wall-clock.
const ratio = (a, b) => `import ${(a.importCpu / b.importCpu).toFixed(2)}, import+serialize ${((a.importCpu + a.serializeCpu) / (b.importCpu + b.serializeCpu)).toFixed(2)}`;
console.log(`\n3. DAG file parse at scale: ${count} assets (DagBag import + serialization, as the DAG processor does; median of ${repeat}, hand-written one DAG: 1 run)`);
console.log(line("emitted (baton_dags.py):", e));
console.log(line("hand-written, one DAG (same shape):", h));
console.log(line("hand-written, one DAG per group via assets:", s));
console.log(`   CPU ratio emitted / hand-written one DAG:   ${ratio(e, h)}`);
console.log(`   CPU ratio emitted / hand-written per group: ${ratio(e, s)}\n`);
