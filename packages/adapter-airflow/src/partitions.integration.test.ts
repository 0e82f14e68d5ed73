// Baton partitions as Airflow's own (AIP-76, Airflow 3.2+): each materialized partition is an asset
// event with its partition_key (outlet_events[asset].add_partitions), so Airflow's partition-aware
// scheduling (PartitionedAssetTimetable with its mappers) queues one consumer run per partition (or
// per mapped key), read back from Airflow's own tables. baton_assets accepts a run-level partition_key.
import { execFile } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTarget } from "@baton/core/build";
import { adapter } from "./adapter.js";
import { AirflowDriver, airflowEnvironment, airflowPython, migrate, packageDir, type DagTestReport } from "./testing/airflow.js";

const run = promisify(execFile);
const root = mkdtempSync(join(tmpdir(), "baton-airflow-partitions-"));
const dags = join(root, "dags");
const python = airflowPython();
const env = airflowEnvironment(root, dags);
let driver: AirflowDriver;

beforeAll(async () => {
  await buildTarget(adapter, {
    projectRoot: packageDir,
    definitionsFile: join(packageDir, "src", "__tests__", "partitioned-definitions.mjs"),
    outDir: join(dags, "baton"),
    storage: join(root, "storage"),
  });
  mkdirSync(dags, { recursive: true });
  copyFileSync(join(packageDir, "src", "__tests__", "partition_consumer_dags.py"), join(dags, "partition_consumer_dags.py"));
  await migrate(python, env);
  driver = new AirflowDriver(python, env, join(root, "driver.log"));
  await driver.start();
  const synced = await driver.request<{ dags: string[]; importErrors: Record<string, string> }>("sync");
  expect(synced.importErrors).toEqual({});
  // Airflow queues runs for unpaused consumers only (DAGs are paused at creation here).
  await run(python.bin("airflow"), ["dags", "unpause", "^events_", "--treat-dag-id-as-regex", "-y"], { env, timeout: 300_000 });
}, 600_000);

afterAll(async () => {
  await driver?.stop();
  rmSync(root, { recursive: true, force: true });
});

/** Rows of Airflow's metadata DB (SQLite), as JSON objects. */
async function rows(sql: string): Promise<Record<string, unknown>[]> {
  const db = join(env.AIRFLOW_HOME!, "airflow.db");
  const script = "import json, sqlite3, sys\nc = sqlite3.connect(sys.argv[1]); c.row_factory = sqlite3.Row\nprint(json.dumps([dict(r) for r in c.execute(sys.argv[2])]))";
  const { stdout } = await run(python.python, ["-c", script, db, sql], { env });
  return JSON.parse(stdout) as Record<string, unknown>[];
}

describe("Baton partitions in Airflow's partition-aware scheduling", () => {
  it("a range run records one partitioned asset event per day and queues partition-aware consumers per (mapped) key", async () => {
    const r = await driver.request<DagTestReport>("dag_test", { dagId: "baton_assets", conf: { assets: ["events"], partition_range: "2024-01-30...2024-02-01" } });
    expect(r.state, `see ${driver.logFile}`).toBe("success");

    const events = await rows("SELECT e.partition_key FROM asset_event e JOIN asset a ON a.id = e.asset_id WHERE a.uri = 'x-baton://events' ORDER BY e.partition_key");
    expect(events.map((e) => e.partition_key)).toEqual(["2024-01-30", "2024-01-31", "2024-02-01"]);

    // Airflow's provisional runs of the consumers (created when the events were registered).
    const queued = await rows("SELECT target_dag_id, partition_key FROM asset_partition_dag_run ORDER BY target_dag_id, partition_key");
    expect(queued).toEqual([
      { target_dag_id: "events_daily_report", partition_key: "2024-01-30" },
      { target_dag_id: "events_daily_report", partition_key: "2024-01-31" },
      { target_dag_id: "events_daily_report", partition_key: "2024-02-01" },
      { target_dag_id: "events_monthly_rollup", partition_key: "2024-01" },
      { target_dag_id: "events_monthly_rollup", partition_key: "2024-02" },
    ]);
    const log = await rows("SELECT source_partition_key, target_partition_key FROM partitioned_asset_key_log WHERE target_dag_id = 'events_monthly_rollup' ORDER BY source_partition_key");
    expect(log).toEqual([
      { source_partition_key: "2024-01-30", target_partition_key: "2024-01" },
      { source_partition_key: "2024-01-31", target_partition_key: "2024-01" },
      { source_partition_key: "2024-02-01", target_partition_key: "2024-02" },
    ]);
    // Partitioned events never queue a plain schedule=[Asset] DAG (airflow/assets/manager.py _queue_dagruns).
    expect(await rows("SELECT q.target_dag_id FROM asset_dag_run_queue q")).toEqual([]);
    expect(await rows("SELECT dag_id FROM dag WHERE dag_id LIKE 'events_%' AND is_paused = 0 ORDER BY dag_id")).toHaveLength(3);
  });
});
