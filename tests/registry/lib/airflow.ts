import { existsSync, mkdirSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { run } from "./exec.js";
import { userEnv } from "./user.js";

export interface OutputRecord {
  readonly assetKey: string;
  readonly rowCount: number | null;
  readonly contentHash: string | null;
  readonly runId: string;
}

export interface AirflowHome {
  /** `airflow ARGS` with this home, its SQLite DB and the DAGs folder; throws on a non-zero exit. */
  airflow(args: readonly string[], timeoutMs?: number): Promise<string>;
  readonly env: NodeJS.ProcessEnv;
}

/**
 * The set-up a user does before Airflow shows a DAG (README "Install Baton into your own project"):
 * a fresh AIRFLOW_HOME with a SQLite DB, the build folder as the DAGs folder, no examples, then
 * `airflow db migrate` (without it every command fails on a missing table) and `airflow dags
 * reserialize` (without a running dag-processor, `dags list` shows nothing until the files are parsed).
 */
export async function airflowHome(options: { venvBin: string; cwd: string; dagsFolder: string; home: string; storage: string }): Promise<AirflowHome> {
  mkdirSync(options.home, { recursive: true });
  const inherited = Object.fromEntries(Object.entries(userEnv()).filter(([k]) => !k.startsWith("AIRFLOW")));
  const env: NodeJS.ProcessEnv = {
    ...inherited,
    AIRFLOW_HOME: options.home,
    AIRFLOW__CORE__DAGS_FOLDER: options.dagsFolder,
    AIRFLOW__CORE__LOAD_EXAMPLES: "False",
    AIRFLOW__DATABASE__SQL_ALCHEMY_CONN: `sqlite:///${join(options.home, "airflow.db")}`,
    BATON_STORAGE: options.storage,
  };
  const airflow = async (args: readonly string[], timeoutMs = 4 * 60_000) =>
    (await run(join(options.venvBin, "airflow"), args, { cwd: options.cwd, env, timeoutMs })).stdout;
  await airflow(["db", "migrate"]);
  await airflow(["dags", "reserialize"]);
  return { airflow, env };
}

/** JSON printed by `airflow … -o json`, after whatever log lines Airflow prints before it. */
export function jsonOutput<T>(stdout: string): T {
  const start = stdout.search(/^[[{]/m);
  if (start < 0) throw new Error(`no JSON in Airflow's output:\n${stdout.slice(-3000)}`);
  return JSON.parse(stdout.slice(start)) as T;
}

/** Unpartitioned outputs in an IO store folder, by asset key. */
export function storedRecords(storage: string): Record<string, OutputRecord> {
  const records: Record<string, OutputRecord> = {};
  if (!existsSync(storage)) return records;
  for (const key of readdirSync(storage)) {
    const file = join(storage, key, "__unpartitioned__", "record.json");
    if (existsSync(file)) records[decodeURIComponent(key)] = JSON.parse(readFileSync(file, "utf8")) as OutputRecord;
  }
  return records;
}
