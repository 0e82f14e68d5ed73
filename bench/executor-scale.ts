/**
 * The embedded executor at scale (issue 13): 1,000, 10,000 and 100,000 trivial assets in layers of
 * 10 (each depends on the asset 10 before it, as in core.ts), next to Dagster's in-process
 * `materialize()` of the same 1,000-asset graph (dagster_inprocess.py). Not a test: it prints figures.
 *
 *   pnpm exec tsx executor-scale.ts          (BENCH_SCALE_MAX=10000 to stop at 10k; BENCH_DAGSTER=0 to skip Dagster)
 *
 * Three costs, each in a fresh process so its peak RSS is its own:
 * - executor:  side-effect assets (output "none") on an in-memory store — the executor and the step
 *              runtime alone, no filesystem;
 * - records:   the same assets on the local store — each also commits a record.json (fsync'd);
 * - frames:    a one-row polars frame in and out, Parquet on the local store — 1k and 10k only: at
 *              100k it is ~100k Parquet files and minutes of IO that say nothing more about the executor.
 * Wall time and CPU time are both printed: the machine is shared, CPU time is the steadier figure.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pl from "nodejs-polars";
import { asset, BackendIOStore, definitions, LocalIOStore, materialize, type AssetDefinition, type IOStore } from "@baton/core";

type Mode = "executor" | "records" | "frames";
interface Figures {
  readonly mode: Mode;
  readonly assets: number;
  readonly defineMs: number;
  readonly runMs: number;
  readonly runCpuMs: number;
  /** The compute functions called directly, no executor (frames only; 0 otherwise): wall and CPU. */
  readonly computeMs: number;
  readonly computeCpuMs: number;
  readonly peakRssMb: number;
}

const here = fileURLToPath(new URL(".", import.meta.url));

/** An in-memory store backend: records only (side-effect assets write no data file). */
function memoryStore(): IOStore {
  const files = new Map<string, Buffer>();
  const dataless = () => Promise.reject(new Error("the in-memory bench store holds no data files"));
  return new BackendIOStore({
    url: "memory://bench",
    location: (rel: string) => `memory://bench/${rel}`,
    prepare: async () => undefined,
    dataName: (hash16: string, ext: string) => `${hash16}.${ext}`,
    putData: dataless,
    readData: dataless,
    commitRecord: async (rel: string, bytes: Uint8Array) => {
      files.set(rel, Buffer.from(bytes));
      return {};
    },
    get: async (rel: string) => files.get(rel),
    childrenWithRecord: async () => [],
    removeStale: async () => undefined,
    listFiles: async () => [...files.keys()].sort(),
  } as unknown as ConstructorParameters<typeof BackendIOStore>[0]);
}

const tiny = () => pl.DataFrame({ x: pl.Series("x", [1], pl.Int64) });

function graph(mode: Mode, n: number): AssetDefinition<any, any>[] {
  const assets: AssetDefinition<any, any>[] = [];
  for (let i = 0; i < n; i++) {
    const up = i >= 10 ? assets[i - 10] : undefined;
    if (mode === "frames") assets.push(asset({ key: `a${i}`, ...(up ? { inputs: { up } } : {}), compute: up ? ({ up }: { up: pl.DataFrame }) => up : tiny } as never));
    else assets.push(asset({ key: `s${i}`, output: "none", ...(up ? { deps: [up] } : {}), compute: () => undefined }));
  }
  return assets;
}

/** One measurement, in this process (the parent starts one process per measurement). */
async function measure(mode: Mode, n: number): Promise<Figures> {
  const root = mkdtempSync(join(tmpdir(), "baton-bench-scale-"));
  try {
    const assets = graph(mode, n);
    let t0 = performance.now();
    const defs = definitions({ assets });
    const defineMs = performance.now() - t0;
    let computeMs = 0;
    let computeCpuMs = 0;
    if (mode === "frames") {
      const c0 = process.cpuUsage();
      t0 = performance.now();
      for (let i = 0; i < n; i++) tiny();
      computeMs = performance.now() - t0;
      const c = process.cpuUsage(c0);
      computeCpuMs = (c.user + c.system) / 1000;
    }
    const store = mode === "executor" ? memoryStore() : new LocalIOStore(join(root, "store"));
    const cpu = process.cpuUsage();
    t0 = performance.now();
    const result = await materialize(defs, { store, env: {} });
    const runMs = performance.now() - t0;
    const used = process.cpuUsage(cpu);
    if (result.status !== "success") throw new Error(`the ${mode} run of ${n} assets failed: ${JSON.stringify(result.failure)}`);
    return { mode, assets: n, defineMs, runMs, runCpuMs: (used.user + used.system) / 1000, computeMs, computeCpuMs, peakRssMb: process.resourceUsage().maxRSS / 1024 };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

function inChild(mode: Mode, n: number): Figures {
  const out = execFileSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), "--one", mode, String(n)], { cwd: here, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  const line = out.split("\n").find((l) => l.startsWith("@@figures "));
  if (!line) throw new Error(`the ${mode} measurement of ${n} assets printed no figures`);
  return JSON.parse(line.slice("@@figures ".length)) as Figures;
}

interface DagsterFigures {
  readonly assets: number;
  readonly mode: "none" | "io";
  readonly runMs: number;
  readonly runCpuMs: number;
}

async function dagster(n: number, mode: "none" | "io"): Promise<DagsterFigures> {
  // The Dagster bench venv of adapter-dagster (its pinned dagster and polars), made by @baton/testing.
  const { ensurePythonEnv } = await import("../packages/testing/dist/index.js");
  const { python } = ensurePythonEnv({ name: "dagster-bench", requirements: join(here, "..", "packages", "adapter-dagster", "python", "requirements-bench.txt") });
  const home = mkdtempSync(join(tmpdir(), "baton-bench-dagster-"));
  try {
    // Dagster logs every event to stderr: kept out of the figures (the pipe is read, then dropped).
    const out = execFileSync(python, [join(here, "dagster_inprocess.py"), String(n), mode], { cwd: home, env: { ...process.env, DAGSTER_HOME: home }, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 512 * 1024 * 1024 });
    const line = out.split("\n").find((l) => l.startsWith("@@bench "));
    if (!line) throw new Error("dagster_inprocess.py printed no result");
    return JSON.parse(line.slice("@@bench ".length)) as DagsterFigures;
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

if (process.argv[2] === "--one") {
  console.log(`@@figures ${JSON.stringify(await measure(process.argv[3] as Mode, Number(process.argv[4])))}`);
} else {
  const max = Number(process.env.BENCH_SCALE_MAX ?? 100_000);
  const sizes = [1_000, 10_000, 100_000].filter((n) => n <= max);
  const fmt = (x: number, d = 2) => x.toFixed(d);
  inChild("executor", 100); // warm-up: the module cache of tsx, the polars native library
  const rows: Figures[] = [];
  for (const mode of ["executor", "records", "frames"] as const) {
    for (const n of sizes) {
      if (mode === "frames" && n > 10_000) continue;
      if (mode === "records" && n > 10_000 && process.env.BENCH_SCALE_RECORDS_100K !== "1") continue;
      rows.push(inChild(mode, n));
    }
  }
  const at = (mode: Mode, n: number) => rows.find((r) => r.mode === mode && r.assets === n);
  const label: Record<Mode, string> = {
    executor: "executor alone (output none, in-memory store)",
    records: "+ a record per asset (output none, local store)",
    frames: "frame in + out (Parquet, local store)",
  };
  console.log(`\n## embedded executor at scale: trivial assets in layers of 10 (goals: 100k ≤ 10× the time of 10k; ≤ 1 ms per asset beyond its compute)`);
  console.log(`${"".padEnd(50)} ${"assets".padStart(8)}   ${"ms per asset: wall".padStart(18)} ${"cpu".padStart(6)}   ${"beyond compute: wall".padStart(20)} ${"cpu".padStart(6)}   ${"definitions()".padStart(13)} ${"peak RSS".padStart(9)}`);
  for (const r of rows) {
    const per = (x: number) => fmt(x / r.assets).padStart(6);
    console.log(
      `${label[r.mode].padEnd(50)} ${r.assets.toLocaleString("en-US").padStart(8)}   ${per(r.runMs).padStart(18)} ${per(r.runCpuMs)}   ${per(r.runMs - r.computeMs).padStart(20)} ${per(r.runCpuMs - r.computeCpuMs)}   ${`${fmt(r.defineMs, 0)} ms`.padStart(13)} ${`${fmt(r.peakRssMb, 0)} MB`.padStart(9)}`,
    );
  }
  for (const mode of ["executor", "records", "frames"] as const) {
    const pairs = [[1_000, 10_000], [10_000, 100_000]].filter(([a, b]) => at(mode, a!) && at(mode, b!));
    for (const [a, b] of pairs) {
      const x = at(mode, a!)!;
      const y = at(mode, b!)!;
      const wall = y.runMs / x.runMs;
      const cpu = y.runCpuMs / x.runCpuMs;
      const goal = b === 100_000 ? `  (goal ≤ 10×: ${wall <= 10 ? "met" : "NOT met"})` : "";
      console.log(`${mode.padEnd(9)} ${(b! / 1000).toFixed(0)}k / ${(a! / 1000).toFixed(0)}k: wall ${fmt(wall)}×, cpu ${fmt(cpu)}× for ${b! / a!}× the assets${goal}`);
    }
  }
  const dagsterRows: DagsterFigures[] = [];
  if (process.env.BENCH_DAGSTER !== "0") {
    for (const mode of ["none", "io"] as const) dagsterRows.push(await dagster(1_000, mode));
    console.log(`\n## Dagster in-process materialize() of the same 1,000-asset graph (single-threaded; fs_io_manager for frames)`);
    for (const d of dagsterRows) {
      const baton = at(d.mode === "none" ? "executor" : "frames", d.assets);
      const peer = d.mode === "none" ? "side-effect assets (-> None)" : "polars frame in + out (pickle)";
      const vs = baton ? `  Baton ${fmt(baton.runMs / baton.assets)} ms/asset: Dagster takes ${fmt(d.runMs / baton.runMs, 1)}× wall, ${fmt(d.runCpuMs / baton.runCpuMs, 1)}× cpu` : "";
      console.log(`${peer.padEnd(34)} ${fmt(d.runMs / d.assets)} ms/asset wall, ${fmt(d.runCpuMs / d.assets)} cpu${vs}`);
    }
  }
  console.log(JSON.stringify({ executorScale: { baton: rows, dagster: dagsterRows } }));
}
