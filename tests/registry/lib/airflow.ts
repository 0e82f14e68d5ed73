import { existsSync, mkdirSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ensurePythonEnv } from "@baton/testing";
import { run } from "./exec.js";
import { REPO_ROOT } from "./workspace.js";

const RUN_DAGS = fileURLToPath(new URL("../airflow/run_dags.py", import.meta.url));
/** The Airflow adapter's integration pins: the same real Airflow its own tests run. */
const REQUIREMENTS = join(REPO_ROOT, "packages", "adapter-airflow", "python", "requirements-test.txt");

export interface OutputRecord {
  readonly assetKey: string;
  readonly rowCount: number | null;
  readonly contentHash: string | null;
  readonly runId: string;
}

export interface AirflowRun {
  /** DAG id → run state and task states, as Airflow's metadata DB has them after `dag.test()`. */
  readonly dags: Record<string, { state: string; tasks: Record<string, string | null> }>;
  readonly importErrors: Record<string, string>;
  /** Unpartitioned outputs in the IO store after the runs, by asset key. */
  readonly records: Record<string, OutputRecord>;
  readonly log: string;
}

/**
 * Run every DAG in `dagsFolder` once on real Airflow: the virtual environment from the Airflow
 * adapter's requirements-test.txt (made with uv by @baton/testing's ensurePythonEnv, shared with
 * that adapter's tests through BATON_VENV_ROOT), a fresh SQLite metadata DB (`airflow db migrate`),
 * then `dag.test()` per DAG. The Node steps write to `storage` (BATON_STORAGE on the worker).
 */
export async function runOnAirflow(options: { project: string; dagsFolder: string; storage: string; work: string }): Promise<AirflowRun> {
  const venv = ensurePythonEnv({ name: "airflow", requirements: REQUIREMENTS, root: process.env.BATON_VENV_ROOT ?? join(REPO_ROOT, ".venvs") });
  const home = join(options.work, "airflow-home");
  mkdirSync(home, { recursive: true });
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("AIRFLOW")));
  const env: NodeJS.ProcessEnv = {
    ...inherited,
    AIRFLOW_HOME: home,
    AIRFLOW__CORE__DAGS_FOLDER: options.dagsFolder,
    AIRFLOW__CORE__LOAD_EXAMPLES: "False",
    AIRFLOW__DATABASE__SQL_ALCHEMY_CONN: `sqlite:///${join(home, "airflow.db")}`,
    BATON_STORAGE: options.storage,
    BATON_NODE: process.execPath,
  };
  await run(venv.bin("airflow"), ["db", "migrate"], { cwd: options.project, env, timeoutMs: 3 * 60_000 });
  const result = await run(venv.python, [RUN_DAGS], { cwd: options.project, env, timeoutMs: 4 * 60_000 });
  const line = result.stdout.split("\n").reverse().find((l) => l.startsWith("@@summary "));
  if (!line) throw new Error(`run_dags.py printed no summary:\n${(result.stdout + result.stderr).slice(-6000)}`);
  const summary = JSON.parse(line.slice("@@summary ".length)) as Pick<AirflowRun, "dags" | "importErrors">;
  const records: Record<string, OutputRecord> = {};
  if (existsSync(options.storage)) {
    for (const key of readdirSync(options.storage)) {
      const file = join(options.storage, key, "__unpartitioned__", "record.json");
      if (existsSync(file)) records[decodeURIComponent(key)] = JSON.parse(readFileSync(file, "utf8")) as OutputRecord;
    }
  }
  return { ...summary, records, log: `${result.stdout}\n${result.stderr}` };
}
