import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ensurePythonEnv, type PythonEnv } from "@baton/testing";
import { DBT_REQUIREMENTS } from "../run-dbt.js";

export const PACKAGE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
/** The dbt fixture project of @baton/testing. */
export const FIXTURE = resolve(PACKAGE_DIR, "../testing/fixtures/dbt/jaffle");

/** dbt in its own venv, from the package's pins (created on first use, reused while they are unchanged). */
export function dbtEnv(): PythonEnv {
  return ensurePythonEnv({ name: "dbt", requirements: DBT_REQUIREMENTS });
}

/** A private copy of the fixture (dbt writes target/, logs/ and the DuckDB file into the project). */
export function copyFixture(): string {
  const dir = join(mkdtempSync(join(tmpdir(), "baton-dbt-")), "jaffle");
  cpSync(FIXTURE, dir, { recursive: true, filter: (src) => !["target", "logs"].includes(basename(src)) && !src.endsWith(".duckdb") });
  return dir;
}

/** DuckDB from the dbt venv: a query's rows as JSON objects (to read what dbt wrote). */
export function query(env: PythonEnv, sql: string, database?: string): Record<string, unknown>[] {
  const script =
    "import duckdb, json, sys\n" +
    "con = duckdb.connect(sys.argv[2], read_only=True) if sys.argv[2] else duckdb.connect()\n" +
    "rel = con.sql(sys.argv[1])\n" +
    "cols = rel.columns\n" +
    "print(json.dumps([dict(zip(cols, r)) for r in rel.fetchall()], default=str))\n";
  return JSON.parse(execFileSync(env.python, ["-c", script, sql, database ?? ""], { encoding: "utf8" })) as Record<string, unknown>[];
}
