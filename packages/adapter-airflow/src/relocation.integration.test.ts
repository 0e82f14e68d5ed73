import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalIOStore, loadDefinitions, materialize } from "@baton/core";
import { buildTarget, type BuildResult } from "@baton/core/build";
import { compareFolders, portabilityProblems, relocate, type Relocated, type RelocatedResult } from "@baton/testing";
import { adapter } from "./adapter.js";
import type { AirflowOptions } from "./options.js";

// The example a new user deploys: built by core's buildTarget with this adapter, then run on
// "another machine" (relocate: the checkout hidden, a fresh HOME and venv from OUT/requirements.txt).
const example = fileURLToPath(new URL("../../../examples/customer-metrics/", import.meta.url));
const UNPARTITIONED = ["orders", "customers", "customer_metrics", "published_metrics"];
const DAY = "2024-01-05";
const AIRFLOW_MS = 600_000;

let outDir: string;
let build: BuildResult<AirflowOptions>;
let relocated: Relocated;
let env: Record<string, string>;

const buildExample = (out: string) => buildTarget(adapter, { projectRoot: example, definitionsFile: "src/definitions.ts", outDir: out });

beforeAll(async () => {
  const work = mkdtempSync(join(tmpdir(), "baton-airflow-relocation-"));
  outDir = join(work, "dags");
  build = await buildExample(outDir);
  relocated = relocate(outDir);
  await relocated.venv("requirements.txt");
  // Airflow's home sits next to the bundle in the relocated temp folder, not in it (it is not DAG code).
  const root = dirname(relocated.dir);
  mkdirSync(join(root, "airflow"));
  env = {
    AIRFLOW_HOME: join(root, "airflow"),
    AIRFLOW__CORE__DAGS_FOLDER: relocated.dir,
    AIRFLOW__CORE__LOAD_EXAMPLES: "False",
    BATON_STORAGE: join(root, "storage"),
    WAREHOUSE_URL: join(root, "warehouse"),
  };
}, 1_200_000);

afterAll(() => relocated?.cleanup());

/** An `airflow` command in the relocated folder; fails the test with its output unless it exits 0. */
async function airflow(...args: string[]): Promise<RelocatedResult> {
  const r = await relocated.run("airflow", args, { env, timeoutMs: AIRFLOW_MS });
  if (r.code !== 0) throw new Error(`airflow ${args.join(" ")} exited ${r.code}\n--- stdout\n${r.stdout.slice(-6000)}\n--- stderr\n${r.stderr.slice(-6000)}`);
  return r;
}

/** Rows of Airflow's metadata DB (SQLite under AIRFLOW_HOME), read by the relocated venv's Python. */
async function records(sql: string): Promise<Record<string, unknown>[]> {
  const code = `import json, sqlite3, sys\nc = sqlite3.connect(sys.argv[1]); c.row_factory = sqlite3.Row\nprint(json.dumps([dict(r) for r in c.execute(sys.argv[2])]))`;
  const r = await relocated.run("python", ["-c", code, join(env.AIRFLOW_HOME!, "airflow.db"), sql], { env });
  if (r.code !== 0) throw new Error(`reading Airflow's DB failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, unknown>[];
}

/** Content hash per `asset@partition` from Airflow's asset events of one DAG run. */
async function eventHashes(runId: string): Promise<Record<string, string>> {
  const rows = await records(
    `select a.name as asset, e.partition_key as pk, e.extra as extra from asset_event e join asset a on a.id = e.asset_id where e.source_run_id = '${runId}' order by e.id`,
  );
  return Object.fromEntries(rows.map((r) => [`${r.asset}${r.pk ? `@${r.pk}` : ""}`, (JSON.parse(String(r.extra)) as { content_hash: string }).content_hash]));
}

/** The JSON array a CLI printed among its log lines (Airflow logs to stdout too). */
function jsonArray<T>(stdout: string): T[] {
  const line = stdout.split("\n").find((l) => l.startsWith("["));
  if (line === undefined) throw new Error(`no JSON array in the output:\n${stdout.slice(-4000)}`);
  return JSON.parse(line) as T[];
}

async function lastRun(dagId: string): Promise<{ runId: string; state: string; tasks: Record<string, string> }> {
  const [run] = await records(`select run_id, state from dag_run where dag_id = '${dagId}' order by id desc limit 1`);
  const tis = await records(`select task_id, state from task_instance where dag_id = '${dagId}' and run_id = '${String(run!.run_id)}'`);
  return { runId: String(run!.run_id), state: String(run!.state), tasks: Object.fromEntries(tis.map((t) => [String(t.task_id), String(t.state)])) };
}

describe("the example's Airflow build is a deployable artifact", () => {
  it("is portable and deterministic: no absolute path or '..', and a second build is byte-identical", async () => {
    expect(portabilityProblems(outDir)).toEqual([]);
    const again = join(mkdtempSync(join(tmpdir(), "baton-airflow-again-")), "dags");
    await buildExample(again);
    expect(compareFolders(outDir, again)).toEqual([]);
    expect(build.files).toEqual(expect.arrayContaining([".airflowignore", "baton_dags.py", "baton/build.json", "baton/manifest.json", "requirements.txt"]));
  });

  it("runs relocated: db migrate, dags reserialize, dags list and dags test, with the in-place content hashes", async () => {
    // Airflow's own file discovery: the root .airflowignore keeps the DAG processor out of baton/ and wheels/.
    const code = "import json, sys\nfrom airflow.utils.file import find_dag_file_paths\nprint(json.dumps(find_dag_file_paths(sys.argv[1], safe_mode=True)))";
    const found = await relocated.run("python", ["-c", code, relocated.dir], { env });
    expect(jsonArray<string>(found.stdout)).toEqual([join(relocated.dir, "baton_dags.py")]);

    await airflow("db", "migrate");
    await airflow("dags", "reserialize");
    const listed = jsonArray<{ dag_id: string }>((await airflow("dags", "list", "--output", "json")).stdout);
    expect(listed.map((d) => d.dag_id).sort()).toEqual(["baton_assets", "baton_schedule_nightly_revenue", "baton_sensor_orders_landed"]);

    await airflow("dags", "test", "baton_assets", "--conf", JSON.stringify({ assets: UNPARTITIONED }));
    const all = await lastRun("baton_assets");
    expect(all.state).toBe("success");
    expect(all.tasks).toEqual({ plan: "success", orders: "success", customers: "success", customer_metrics: "success", published_metrics: "success", daily_revenue: "skipped", orders__orders_have_customers: "success", inline_checks: "skipped", outcome: "success", committed: "success" });

    await airflow("dags", "test", "baton_assets", "--conf", JSON.stringify({ assets: ["daily_revenue"], partition_key: DAY }));
    const day = await lastRun("baton_assets");
    expect([day.state, day.tasks.daily_revenue]).toEqual(["success", "success"]);

    const relocatedHashes = { ...(await eventHashes(all.runId)), ...(await eventHashes(day.runId)) };
    // The same assets in place, through core's embedded executor: the data must not depend on where it ran.
    const defs = await loadDefinitions(join(example, "src/definitions.ts"));
    const store = new LocalIOStore(mkdtempSync(join(tmpdir(), "baton-airflow-inplace-")));
    const warehouse = mkdtempSync(join(tmpdir(), "baton-airflow-warehouse-"));
    const inPlace: Record<string, string> = {};
    for (const [selection, partition] of [[UNPARTITIONED.join(" "), undefined], ["daily_revenue", DAY]] as const) {
      const result = await materialize(defs, { selection, ...(partition ? { partition } : {}), store, env: { WAREHOUSE_URL: warehouse } });
      for (const [id, a] of Object.entries(result.assets))
        for (const m of a.materializations) if (m.metadata.contentHash) inPlace[`${id}${m.partitionKey ? `@${m.partitionKey}` : ""}`] = m.metadata.contentHash;
    }
    expect(Object.keys(inPlace).sort()).toEqual(["customer_metrics", "customers", `daily_revenue@${DAY}`, "orders"]);
    expect(relocatedHashes).toMatchObject(inPlace);
  });
});
