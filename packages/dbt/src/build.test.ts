import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import pl from "nodejs-polars";
import { asset, definitions, LocalIOStore, materialize } from "@baton/core";
import type { PythonEnv } from "@baton/testing";
import { dbtEnv, copyFixture, query } from "./__tests__/dbt-env.js";
import { dbtProject, type DbtBuildResult, type DbtProject } from "./project.js";
import { DbtError, DbtNodeFailure } from "./errors.js";

/**
 * One parse and two builds of the fixture with real dbt (its own venv): the staging layer, then the
 * marts with a Baton output read through the source and two deliberately bad nodes beside them.
 */
let env: PythonEnv;
let project: DbtProject;
let dir: string;
let staging: DbtBuildResult;
let marts: DbtBuildResult;
let dataFile: string;

/** A TypeScript asset the dbt source reads: materialized by Baton's embedded executor into a store. */
const orderPriorities = asset({
  key: ["ts", "order_priorities"],
  compute: () => {
    const ids = Array.from({ length: 12 }, (_, i) => i + 1);
    return pl.DataFrame({ order_id: ids, priority: ids.map((id) => (id % 2 === 1 ? "high" : "low")) });
  },
});

beforeAll(async () => {
  env = dbtEnv();
  dir = copyFixture();
  // Bad nodes, next to the good ones: a model whose SQL fails, and one whose error-severity test fails
  // (with a model downstream of it, which dbt then skips).
  writeFileSync(join(dir, "models/marts/broken_orders.sql"), "select no_such_column from {{ ref('orders') }}\n");
  // Parses (execute is false while parsing), fails to compile when built.
  writeFileSync(join(dir, "models/marts/late_compile.sql"), "select 1 as x {% if execute %}{{ no_such_macro() }}{% endif %}\n");
  writeFileSync(join(dir, "models/marts/refunds.sql"), "select 1 as order_id, -5.0 as amount\n");
  writeFileSync(join(dir, "models/marts/refunds_report.sql"), "select count(*) as n from {{ ref('refunds') }}\n");
  writeFileSync(join(dir, "tests/assert_refunds_positive.sql"), "select * from {{ ref('refunds') }} where amount < 0\n");
  // The TS asset's output, and the exact data file its record names (older data files may sit beside it).
  const store = new LocalIOStore(join(dir, "store"));
  const run = await materialize(definitions({ assets: [orderPriorities] }), { store, env: {} });
  expect(run.status).toBe("success");
  const record = (await store.readRecord(orderPriorities.key, undefined))!;
  dataFile = store.locationOf(orderPriorities.key, undefined, record.file!);
  // The external model's folder (dbt-duckdb needs it to exist).
  mkdirSync(join(dir, "store/dbt"), { recursive: true });
  project = await dbtProject({
    projectDir: dir,
    dbtExecutable: env.bin("dbt"),
    sources: { "baton.order_priorities": { key: "ts/order_priorities", pathVar: "baton_order_priorities" } },
    vars: { baton_external_dir: join(dir, "store/dbt") },
  });
  staging = await project.build({ select: ["raw_customers", "raw_orders", "raw_payments", "stg_customers", "stg_orders", "stg_payments"] });
  marts = await project.build({
    select: ["orders", "customers", "customer_summary", "order_priorities", "broken_orders", "late_compile", "refunds", "refunds_report"],
    inputs: { "ts/order_priorities": dataFile },
  });
});

describe("dbtBuild: one dbt build per batch", () => {
  it("runs one dbt build selecting the batch's nodes and their tests only", () => {
    expect(staging.args[0]).toBe("build");
    expect(staging.args).toContain("--indirect-selection");
    expect(staging.args.filter((a) => a.startsWith("fqn:"))).toHaveLength(6 + project.specs.filter((s) => s.id.startsWith("stg_")).reduce((n, s) => n + s.checks.length, 0));
    expect(staging.selected).toContain("model.jaffle.stg_orders");
    expect(staging.dbtVersion).toBe("1.11.16");
    // Nothing outside the batch ran.
    expect(staging.materializations.map((m) => m.id).sort()).toEqual(["raw_customers", "raw_orders", "raw_payments", "stg_customers", "stg_orders", "stg_payments"]);
  });

  it("maps run_results.json to materializations and checks; a failed warn test is reported, the build is ok", () => {
    expect(staging.ok).toBe(true);
    expect(staging.errors).toEqual([]);
    expect(() => staging.assertOk()).not.toThrow();
    for (const m of staging.materializations) {
      expect(m.status).toBe("success");
      expect(m.timing.startedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
      expect(m.timing.seconds).toBeGreaterThan(0);
    }
    const seed = staging.materializations.find((m) => m.id === "raw_orders")!;
    expect(seed.metadata).toMatchObject({ "dbt/rows_affected": 12, "dbt/unique_id": "seed.jaffle.raw_orders" });
    const warn = staging.checks.find((c) => c.name.startsWith("accepted_values_stg_payments_payment_method"))!;
    expect(warn).toMatchObject({ assetId: "stg_payments", status: "warn", passed: false, severity: "warn", failures: 1 });
    expect(warn.message).toMatch(/Got 1 result, configured to warn if != 0/);
    const rel = staging.checks.find((c) => c.name.startsWith("relationships_stg_orders"))!;
    expect(rel).toMatchObject({ assetId: "stg_orders", status: "pass", passed: true, severity: "error", failures: 0 });
    expect(staging.checks.filter((c) => c.status === "pass")).toHaveLength(staging.checks.length - 1);
  });

  it("a dbt source reads the Baton output through its exact data file, and an external model writes Parquet", () => {
    expect(dataFile).toMatch(/store\/ts\/order_priorities\/__unpartitioned__\/data-[^/]+\.parquet$/);
    expect(marts.args.join(" ")).toContain(`"baton_order_priorities":"${dataFile}"`);
    const byId = new Map(marts.materializations.map((m) => [m.id, m]));
    expect(byId.get("order_priorities")!.status).toBe("success");
    const rows = query(env, "select priority, count(*) as n from main.order_priorities group by priority order by priority", join(dir, "jaffle.duckdb"));
    expect(rows).toEqual([
      { priority: "high", n: 6 },
      { priority: "low", n: 6 },
    ]);
    const summary = byId.get("customer_summary")!;
    expect(summary.status).toBe("success");
    const file = join(dir, "store/dbt/customer_summary.parquet");
    expect(existsSync(file)).toBe(true);
    expect(query(env, `select count(*) as n, sum(number_of_orders) as orders from read_parquet('${file}')`)).toEqual([{ n: 8, orders: 12 }]);
  });

  it("a model that fails, one that does not compile and an error-severity test that fails are errors naming the model and file; the rest of the batch is built", () => {
    expect(marts.ok).toBe(false);
    const byId = new Map(marts.materializations.map((m) => [m.id, m]));
    for (const good of ["orders", "customers", "customer_summary", "order_priorities", "refunds"]) expect(byId.get(good)!.status).toBe("success");
    expect(byId.get("broken_orders")!.status).toBe("error");
    expect(byId.get("broken_orders")!.message).toMatch(/no_such_column/);
    // dbt build skips what is downstream of a failed test.
    expect(byId.get("refunds_report")!.status).toBe("skipped");
    const failedTest = marts.checks.find((c) => c.name === "assert_refunds_positive")!;
    expect(failedTest).toMatchObject({ assetId: "refunds", status: "fail", passed: false, severity: "error", failures: 1 });

    const nodeFailure = marts.errors.find((e) => e instanceof DbtNodeFailure)!;
    expect(nodeFailure.message).toMatch(/dbt model model\.jaffle\.broken_orders \(models\/marts\/broken_orders\.sql\) failed: .*no_such_column/s);
    expect(nodeFailure).toMatchObject({ asset: "broken_orders", file: "models/marts/broken_orders.sql" });
    const compile = marts.errors.find((e): e is DbtError => e instanceof DbtError && e.reason === "COMPILATION")!;
    expect(byId.get("late_compile")!.status).toBe("error");
    expect(compile.code).toBe("INVALID_DEFINITION");
    expect(compile.message).toMatch(/^asset "late_compile" \(models\/marts\/late_compile\.sql\): dbt model model\.jaffle\.late_compile \(models\/marts\/late_compile\.sql\) failed: Compilation Error/);
    expect(compile.message).toMatch(/no_such_macro/);
    const testFailure = marts.errors.find((e): e is DbtError => e instanceof DbtError && e.reason === "TEST_FAILED")!;
    expect(testFailure.reason).toBe("TEST_FAILED");
    expect(testFailure.code).toBe("CHECK_FAILED");
    expect(testFailure.message).toMatch(/asset "refunds" \(models\/marts\/refunds\.sql\): the dbt test assert_refunds_positive \(tests\/assert_refunds_positive\.sql\) failed at severity error: Got 1 result/);
    expect(marts.errors).toHaveLength(3);
    expect(() => marts.assertOk()).toThrow(marts.errors[0]!.message);
  });
});
