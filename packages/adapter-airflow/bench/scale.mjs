// Scale benchmark for @baton/adapter-airflow (not a test; `pnpm --filter @baton/adapter-airflow bench`
// after building). For each count in BATON_SCALE_ASSETS (a comma list, default 1,000 and 20,000) a project of
// that many assets (src/__tests__/scale-definitions.mjs): `baton airflow build` (core's buildTarget, what the
// CLI runs), then the emitted file parsed as Airflow's DAG processor parses a file
// (python/harness/parse_dag_file.py: DagBag import, then serialization), against hand-written DAG files of the
// same project (bench/handwritten_scale_dags.py): one DAG of every asset as Baton emits it, and one DAG per
// group chained through Airflow assets. Airflow's import timeout is lifted here so that a file over it is still
// measured; the ratios are what the benchmark reports (CPU medians; Airflow refuses an import over
// [core] dagbag_import_timeout, 30 s).
// Each count is measured in its own child process (`scale.mjs --count N`): the definitions read the count when
// imported, and a module is imported once per process.
import { execFile, execFileSync } from "node:child_process";
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
const repeat = Number(process.env.BATON_BENCH_RUNS ?? 3);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** One count: build, then parse the emitted file and the two hand-written layouts. Returns the figures. */
async function measure(count) {
  const python = ensurePythonEnv({ name: "airflow-bench", requirements: join(packageRoot, "python", "requirements-bench.txt"), wheels: [corePythonWheel(), airflowPythonWheel()] });
  const root = mkdtempSync(join(tmpdir(), "baton-airflow-scale-bench-"));
  process.env.BATON_SCALE_ASSETS = String(count);
  const emitted = join(root, "emitted");
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await buildTarget(adapter, { projectRoot: packageRoot, definitionsFile: join(packageRoot, "src", "__tests__", "scale-definitions.mjs"), outDir: emitted });
  const cpu = process.cpuUsage(cpu0);
  const build = { wallS: (performance.now() - t0) / 1000, cpuS: (cpu.user + cpu.system) / 1e6 };
  const hand = join(root, "hand");
  mkdirSync(hand, { recursive: true });
  copyFileSync(join(here, "handwritten_scale_dags.py"), join(hand, "handwritten_scale_dags.py"));

  async function parse(file, bundle, runs, extra = {}) {
    const env = { ...airflowEnvironment(root, bundle), AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT: "0", BATON_SCALE_ASSETS: String(count), ...extra };
    mkdirSync(env.AIRFLOW_HOME, { recursive: true });
    const out = join(root, "parsed.json");
    await run(python.bin("python"), [join(packageRoot, "python", "harness", "parse_dag_file.py"), file, bundle, out, String(runs)], { env, maxBuffer: 256 * 1024 * 1024 });
    const r = JSON.parse(readFileSync(out, "utf8"));
    if (Object.keys(r.importErrors).length) throw new Error(JSON.stringify(r.importErrors));
    const tasks = Object.values(r.dags).reduce((n, d) => n + Object.keys(d).length, 0);
    return {
      runs,
      importS: median(r.importSeconds),
      serializeS: median(r.serializeSeconds),
      importCpu: median(r.importCpuSeconds),
      serializeCpu: median(r.serializeCpuSeconds),
      dags: Object.keys(r.dags).length,
      tasks,
    };
  }
  // The hand-written files are quadratic in Airflow 3.3 (README, Large projects): over 1 minute of CPU each at
  // 20,000 assets, so above 2,000 assets they are measured once.
  // The per-group layout costs as much again (65 s of CPU at 20,000): above 2,000 assets only with BATON_BENCH_SPLIT=all.
  const handRuns = count > 2000 ? 1 : repeat;
  const split = count <= 2000 || process.env.BATON_BENCH_SPLIT === "all";
  return {
    count,
    build,
    emitted: await parse(join(emitted, "baton_dags.py"), emitted, repeat),
    handOne: await parse(join(hand, "handwritten_scale_dags.py"), hand, handRuns),
    handSplit: split ? await parse(join(hand, "handwritten_scale_dags.py"), hand, handRuns, { BENCH_LAYOUT: "split" }) : undefined,
  };
}

const at = process.argv.indexOf("--count");
if (at > 0) {
  console.log(`@@scale ${JSON.stringify(await measure(Number(process.argv[at + 1])))}`);
  process.exit(0);
}

const counts = (process.env.BATON_SCALE_ASSETS ?? "1000,20000").split(",").map(Number);
const results = counts.map((count) => {
  const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), "--count", String(count)], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 64 * 1024 * 1024 });
  const line = out.split("\n").find((l) => l.startsWith("@@scale "));
  if (!line) throw new Error(`the ${count}-asset measurement printed no result:\n${out}`);
  return JSON.parse(line.slice("@@scale ".length));
});

const s = (x) => `${x.toFixed(1).padStart(6)} s`;
const total = (r) => r.importCpu + r.serializeCpu;
const line = (name, r) =>
  `     ${name.padEnd(30)} import ${s(r.importCpu)} (wall ${s(r.importS)}), serialize ${s(r.serializeCpu)} (wall ${s(r.serializeS)}) — ${r.dags} DAGs, ${r.tasks} tasks, ${r.runs === 1 ? "1 run" : `median of ${r.runs}`}${r.importS > 30 ? "  (wall over the 30 s default: not loaded)" : ""}`;
console.log(`\n3. \`baton airflow build\` + DAG file parse at scale (DagBag import + serialization, as the DAG processor does; CPU seconds, wall in brackets: CPU is the comparison on a busy machine)`);
for (const r of results) {
  console.log(`   ${r.count.toLocaleString("en-US")} assets: baton airflow build ${r.build.wallS.toFixed(1)} s wall (Node CPU ${r.build.cpuS.toFixed(1)} s; esbuild runs in its own process)`);
  console.log(line("emitted (baton_dags.py):", r.emitted));
  console.log(line("hand-written, one DAG:", r.handOne));
  if (r.handSplit) console.log(line("hand-written, DAG per group:", r.handSplit));
  console.log(`     CPU ratio emitted / hand-written one DAG:   import ${(r.emitted.importCpu / r.handOne.importCpu).toFixed(2)}, import+serialize ${(total(r.emitted) / total(r.handOne)).toFixed(2)}`);
  if (r.handSplit) console.log(`     CPU ratio emitted / hand-written per group: import ${(r.emitted.importCpu / r.handSplit.importCpu).toFixed(2)}, import+serialize ${(total(r.emitted) / total(r.handSplit)).toFixed(2)}`);
  else console.log(`     (hand-written per group: not measured above 2,000 assets; BATON_BENCH_SPLIT=all measures it)`);
}
if (results.length > 1) {
  const [a, b] = [results[0], results.at(-1)];
  const k = b.count / a.count;
  console.log(`   growth ${a.count.toLocaleString("en-US")} → ${b.count.toLocaleString("en-US")} assets (${k}× the assets; ${k}× is linear), CPU: build ${(b.build.cpuS / a.build.cpuS).toFixed(1)}×, emitted parse ${(total(b.emitted) / total(a.emitted)).toFixed(1)}×, hand-written one DAG ${(total(b.handOne) / total(a.handOne)).toFixed(1)}×${b.handSplit && a.handSplit ? `, per group ${(total(b.handSplit) / total(a.handSplit)).toFixed(1)}×` : ""}`);
}
console.log(JSON.stringify({ airflowScale: results }));
console.log("");
