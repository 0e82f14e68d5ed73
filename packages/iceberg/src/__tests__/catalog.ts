import { ensurePythonEnv, startIcebergCatalog, startMoto, type IcebergCatalogServer } from "@baton/testing";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type pl from "nodejs-polars";
import type { IcebergCatalogConfig } from "../client.js";
import { IcebergError } from "../errors.js";
import { testExtensions } from "./setup.js";

const pkg = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

export type Row = Record<string, unknown>;

/**
 * Apache Iceberg's REST catalog on a moto of its own (one per test file; stop() stops both), the client config that
 * reaches them, and in `env` also BATON_DUCKDB_EXTENSIONS.
 */
export interface TestCatalog extends IcebergCatalogServer {
  readonly config: IcebergCatalogConfig;
  /** How long the catalog took to start (moto, the catalog server), for the report. */
  readonly startMs: number;
}

export async function startTestCatalog(): Promise<TestCatalog> {
  const started = Date.now();
  const extensionDirectory = testExtensions();
  const s3 = await startMoto();
  const server = await startIcebergCatalog(s3).catch(async (e: unknown) => {
    await s3.stop();
    throw e;
  });
  const config: IcebergCatalogConfig = {
    uri: server.uri,
    warehouse: server.warehouse,
    extensionDirectory,
    s3: { endpoint: s3.endpoint, region: "us-east-1", accessKeyId: server.env.ICEBERG_S3_ACCESS_KEY_ID!, secretAccessKey: server.env.ICEBERG_S3_SECRET_ACCESS_KEY! },
  };
  return {
    ...server,
    config,
    env: { ...server.env, BATON_DUCKDB_EXTENSIONS: extensionDirectory },
    startMs: Date.now() - started,
    stop: async () => {
      await server.stop();
      await s3.stop();
    },
  };
}

export async function caught(p: Promise<unknown>): Promise<IcebergError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof IcebergError) return e;
    throw e;
  }
  throw new Error("expected an IcebergError");
}

/** Rows sorted by every column (in name order), as the Python reader sorts them. */
export function sortedRows(frame: pl.DataFrame): Row[] {
  const columns = [...frame.columns].sort();
  return frame.select(...columns).sort(columns).toRecords() as Row[];
}

function readers(): string {
  return ensurePythonEnv({ name: "iceberg-readers", requirements: join(pkg, "python", "requirements-readers.txt") }).python;
}

const PYTHON_ENV = { POLARS_ICEBERG_PLANNER: "pyiceberg" };

export interface ScriptRead {
  readonly pyiceberg: Row[];
  readonly polars: Row[];
  readonly current: string | null;
  readonly snapshots: string[];
}

/** python/read_table.py (which @baton/testing's conformance cases run too): the table, at a snapshot or its head. */
export function readWithScript(env: Readonly<Record<string, string>>, table: string, snapshotId?: string): ScriptRead {
  const args = [join(pkg, "python", "read_table.py"), table, ...(snapshotId !== undefined ? [snapshotId] : [])];
  return JSON.parse(execFileSync(readers(), args, { env: { ...process.env, ...env, ...PYTHON_ENV }, encoding: "utf8" })) as ScriptRead;
}

export interface PythonRead {
  readonly pyiceberg: Row[];
  readonly polars: Row[];
  /** The snapshot the snippet read, from pyiceberg's int, as text. */
  readonly pinned: string;
  readonly current: string | null;
  readonly snapshots: string[];
}

const REPORT = `
import json  # noqa: E402

def _sorted(frame):
    columns = sorted(frame.columns)
    return frame.select(columns).sort(columns).to_dicts()

current = table.current_snapshot()
print(json.dumps({
    "pyiceberg": _sorted(rows),
    "polars": _sorted(same_rows),
    "pinned": str(snapshot_id),
    "current": None if current is None else str(current.snapshot_id),
    "snapshots": [str(s.snapshot_id) for s in table.snapshots()],
}, default=str))
`;

/**
 * Runs the README's Python reader (its "Reading the table from Python" block, verbatim but for the table name and
 * snapshot id) with pyiceberg 0.12 and polars from python/requirements-readers.txt: the docs are what is tested.
 */
export function readWithPython(env: Readonly<Record<string, string>>, table: string, snapshotId: string): PythonRead {
  const readme = readFileSync(join(pkg, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## Reading the table from Python"));
  const snippet = /```python\n([\s\S]*?)```/.exec(section)?.[1];
  if (snippet === undefined || !snippet.includes(`"analytics.daily_events"`) || !snippet.includes(`int("4817311548932601471")`))
    throw new Error("README.md: the Python reader block (or its table name / snapshot id the test substitutes) is gone");
  const code = snippet.replace(`"analytics.daily_events"`, JSON.stringify(table)).replace(`int("4817311548932601471")`, `int(${JSON.stringify(snapshotId)})`) + REPORT;
  return JSON.parse(execFileSync(readers(), ["-c", code], { env: { ...process.env, ...env, ...PYTHON_ENV }, encoding: "utf8" })) as PythonRead;
}
