import { chmodSync, existsSync, mkdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { dbtEnv, copyFixture } from "./__tests__/dbt-env.js";
import { dbtProject, type DbtProject } from "./project.js";
import { DbtError } from "./errors.js";
import { manifestToSpecs } from "./specs.js";
import { defaultGroupName, toGroupSpec } from "./group.js";

/** The fixture parsed once by real dbt (its own venv); the other cases read that manifest. */
let project: DbtProject;
let dbt: string;
let dir: string;

beforeAll(async () => {
  dbt = dbtEnv().bin("dbt");
  dir = copyFixture();
  project = await dbtProject({
    projectDir: dir,
    dbtExecutable: dbt,
    sources: { "baton.order_priorities": { key: "ts/order_priorities", pathVar: "baton_order_priorities" } },
  });
});

async function rejection(p: Promise<unknown>): Promise<DbtError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(DbtError);
  return e as DbtError;
}

describe("dbtProject: manifest → asset specs", () => {
  it("yields the models, seeds and snapshot under their names, with dbt's edges and the mapped source", () => {
    expect(project.specs.map((s) => s.id).sort()).toEqual([
      "customer_summary",
      "customers",
      "customers_snapshot",
      "order_priorities",
      "orders",
      "raw_customers",
      "raw_orders",
      "raw_payments",
      "stg_customers",
      "stg_orders",
      "stg_payments",
    ]);
    const deps = (id: string): string[] => project.spec(id).deps.map((d) => d.id);
    expect(deps("stg_orders")).toEqual(["raw_orders"]);
    expect(deps("orders")).toEqual(["stg_orders", "stg_payments"]);
    expect(deps("customers")).toEqual(["orders", "stg_customers"]);
    expect(deps("customers_snapshot")).toEqual(["stg_customers"]);
    // The dbt source is the Baton asset it was mapped to.
    expect(project.spec("order_priorities").deps).toEqual([
      { key: ["orders"], id: "orders", uniqueId: "model.jaffle.orders", via: "dbt" },
      { key: ["ts", "order_priorities"], id: "ts/order_priorities", uniqueId: "source.jaffle.baton.order_priorities", via: "source" },
    ]);
    expect(project.spec("model.jaffle.orders").id).toBe("orders");
  });

  it("carries group, tags, owners, description, code version, kinds and relation metadata", () => {
    const orders = project.spec("orders");
    expect(orders.resourceType).toBe("model");
    expect(orders.group).toBe("default");
    expect(orders.tags).toEqual({ marts: "" });
    expect(orders.owners).toEqual(["team:finance"]); // the model's own meta.owner over its folder's
    expect(project.spec("customers").owners).toEqual(["team:analytics", "ana@example.com"]);
    expect(orders.description).toBe("One row per order with its payment totals.");
    expect(orders.codeVersion).toBe(project.manifest.nodes["model.jaffle.orders"]!.checksum!.checksum);
    expect(orders.codeVersion).toMatch(/^[0-9a-f]{64}$/);
    expect(orders.kinds).toEqual(["dbt", "duckdb"]);
    expect(orders.materialized).toBe("table");
    expect(orders.storage).toBe("relation");
    expect(orders.relationName).toBe('"jaffle"."main"."orders"');
    expect(orders.metadata).toMatchObject({ "dbt/materialized": "table", "dbt/schema": "main", "dbt/file": "models/marts/orders.sql" });
    expect(orders.metadata["dbt/columns"]).toEqual([
      { name: "order_id", type: "integer", description: null },
      { name: "customer_id", type: "integer", description: null },
      { name: "amount", type: "double", description: null },
    ]);
    expect(project.spec("stg_orders").materialized).toBe("view");
    expect(project.spec("raw_orders").resourceType).toBe("seed");
    expect(project.spec("customers_snapshot").resourceType).toBe("snapshot");
    const summary = project.spec("customer_summary");
    expect(summary.storage).toBe("external");
    expect(summary.externalLocation).toBe("target/customer_summary.parquet");
    expect(summary.tags).toEqual({ marts: "", export: "" });
  });

  it("makes each dbt test a check on its attached node, with dbt's severity", () => {
    const checks = (id: string): [string, string][] => project.spec(id).checks.map((c) => [c.name, c.severity]);
    expect(checks("stg_payments")).toEqual([
      ["accepted_values_stg_payments_payment_method__credit_card__coupon__bank_transfer", "warn"],
      ["not_null_stg_payments_payment_id", "error"],
      ["unique_stg_payments_payment_id", "error"],
    ]);
    // The relationships test is attached to stg_orders and also reads stg_customers.
    const rel = project.spec("stg_orders").checks.find((c) => c.name.startsWith("relationships_"))!;
    expect(rel).toMatchObject({ severity: "error", testType: "generic", additionalDeps: [["stg_customers"]], file: "models/staging/schema.yml" });
    expect(rel.metadata).toMatchObject({ "dbt/test": "relationships", "dbt/column": "customer_id" });
    // A singular test over one model is that model's check.
    expect(project.spec("orders").checks.map((c) => c.name)).toContain("assert_order_amount_non_negative");
    expect(project.spec("orders").checks.find((c) => c.name === "assert_order_amount_non_negative")!.testType).toBe("singular");
    expect(project.spec("raw_orders").checks).toEqual([]);
    expect(project.unattachedTests).toEqual([]);
    const total = project.specs.reduce((n, s) => n + s.checks.length, 0);
    expect(total).toBe(Object.values(project.manifest.nodes).filter((n) => n.resource_type === "test").length);
  });

  it("keyFor maps the keys, and the mapped source's path var is what a build passes", async () => {
    const prefixed = await dbtProject({ projectDir: dir, dbtExecutable: dbt, parse: false, keyFor: (n) => ["dbt", n.name], sources: { "baton.order_priorities": { key: "ts/order_priorities", pathVar: "baton_order_priorities" } } });
    expect(prefixed.spec("dbt/customers").deps.map((d) => d.id)).toEqual(["dbt/orders", "dbt/stg_customers"]);
    expect(prefixed.sourceVars({ "ts/order_priorities": "/store/ts/order_priorities/data-1.parquet" })).toEqual({ baton_order_priorities: "/store/ts/order_priorities/data-1.parquet" });
    expect(() => prefixed.sourceVars({ "ts/other": "/x.parquet" })).toThrow(/no mapped dbt source reads/);
  });
});

describe("dbtAssets' specs: the project as core asset specs", () => {
  it("an external model mapped in outputs is a table output reading its var; the other nodes relation records", () => {
    const { specs } = manifestToSpecs(project.manifest, { outputs: { customer_summary: "baton_customer_summary" }, sources: { "baton.order_priorities": "ts/order_priorities" } });
    const byId = new Map(specs.map((s) => [s.id, s]));
    expect(byId.get("customer_summary")!.outputVar).toBe("baton_customer_summary");
    const summary = toGroupSpec(byId.get("customer_summary")!);
    expect(summary).toMatchObject({ key: ["customer_summary"], output: "table", kinds: ["dbt", "duckdb"], codeVersion: byId.get("customer_summary")!.codeVersion, deps: [["customers"]] });
    expect(summary.metadata!["dbt/external_location"]).toBeUndefined();
    const stgOrders = toGroupSpec(byId.get("stg_orders")!);
    expect(stgOrders.output).toBe("none");
    expect(stgOrders.checks!.find((c) => c.name.startsWith("relationships_"))).toMatchObject({ severity: "error", deps: [["stg_customers"]] });
    expect(toGroupSpec(byId.get("stg_payments")!).checks!.find((c) => c.name.startsWith("accepted_values_"))!.severity).toBe("warn");
    expect(toGroupSpec(byId.get("order_priorities")!).deps).toEqual([["orders"], ["ts", "order_priorities"]]);
    // Unmapped, the external model's file is outside Baton's store: a relation record.
    expect(toGroupSpec(project.spec("customer_summary")).output).toBe("none");
    expect(defaultGroupName(project)).toBe("dbt_jaffle");
  });

  it("outputs naming no external model, or a test no selected node has, is refused before dbt starts", async () => {
    expect(() => manifestToSpecs(project.manifest, { outputs: { orders: "v" } })).toThrow(/outputs names "orders", which is model\.jaffle\.orders \(models\/marts\/orders\.sql\), not an external model/);
    expect(() => manifestToSpecs(project.manifest, { outputs: { nope: "v" } })).toThrow(/outputs names "nope", which is no model of the manifest/);
    const e = await rejection(project.build({ select: ["orders"], checks: ["unique_stg_orders_order_id"] }));
    expect(e.message).toMatch(/checks names unique_stg_orders_order_id, which no selected node has as a dbt test/);
    expect(() => project.outputVars({ orders: "/x.parquet" })).toThrow(/not an external model mapped in dbtProject\(\{ outputs \}\)/);
  });
});

describe("dbtProject: bad input", () => {
  it("a missing manifest names the file", async () => {
    const e = await rejection(dbtProject({ projectDir: copyFixture(), dbtExecutable: dbt, parse: false }));
    expect(e.reason).toBe("MANIFEST_MISSING");
    expect(e.message).toMatch(/target\/manifest\.json does not exist/);
    expect(e.hint).toMatch(/dbt parse/);
  });

  it("a stale manifest names the file that changed, and a new model", async () => {
    const fresh = await dbtProject({ projectDir: dir, dbtExecutable: dbt, parse: false });
    expect(fresh.specs.length).toBe(11);
    const later = new Date(Date.now() + 5_000);
    utimesSync(join(dir, "models/marts/orders.sql"), later, later);
    let e = await rejection(dbtProject({ projectDir: dir, dbtExecutable: dbt, parse: false }));
    expect(e.reason).toBe("MANIFEST_STALE");
    expect(e.message).toMatch(/manifest\.json is stale: models\/marts\/orders\.sql was changed after the manifest was written/);
    const past = new Date(Date.now() - 3_600_000);
    utimesSync(join(dir, "models/marts/orders.sql"), past, past);
    writeFileSync(join(dir, "models/marts/new_model.sql"), "select 1 as x\n");
    utimesSync(join(dir, "models/marts/new_model.sql"), past, past);
    e = await rejection(dbtProject({ projectDir: dir, dbtExecutable: dbt, parse: false }));
    expect(e.message).toMatch(/models\/marts\/new_model\.sql is not in the manifest/);
    rmSync(join(dir, "models/marts/new_model.sql"));
  });

  it("a selected model the manifest lacks is refused before dbt starts", async () => {
    expect(() => project.spec("nonexistent")).toThrow(DbtError);
    const e = await rejection(project.build({ select: ["orders", "nonexistent"] }));
    expect(e.reason).toBe("UNKNOWN_NODE");
    expect(e.message).toMatch(/the dbt manifest .*manifest\.json has no model, seed or snapshot "nonexistent"/);
    expect(e.hint).toMatch(/select one of customer_summary, customers/);
  });

  it("an unknown source in sources is refused", async () => {
    const e = await rejection(dbtProject({ projectDir: dir, dbtExecutable: dbt, parse: false, sources: { "baton.nope": "x" } }));
    expect(e.message).toMatch(/sources names "baton.nope", which the manifest has no source for/);
    expect(e.hint).toMatch(/baton\.order_priorities/);
  });

  it("dbt missing: names the executable and how to install it", async () => {
    const e = await rejection(dbtProject({ projectDir: dir, dbtExecutable: "/nonexistent/bin/dbt" }));
    expect(e.reason).toBe("DBT_NOT_FOUND");
    expect(e.message).toMatch(/the dbt executable "\/nonexistent\/bin\/dbt" was not found/);
    expect(e.message).toMatch(/dbt-core >=1\.11\.0 <1\.12\.0/);
    expect(e.hint).toMatch(/requirements-dbt\.txt/);
  });

  it("the wrong dbt version: names the version found and wanted, and stops it before it parses", async () => {
    // An executable that announces itself as dbt 1.5 the way dbt does (its first JSON log event), then
    // would write a marker if it were left running.
    const fake = join(dirname(dir), "old-dbt");
    const marker = join(dirname(dir), "old-dbt-went-on");
    writeFileSync(
      fake,
      `#!/bin/sh\necho '{"data": {"log_version": 3, "version": "=1.5.12"}, "info": {"name": "MainReportVersion", "level": "info", "msg": "Running with dbt=1.5.12"}}'\nsleep 3 >/dev/null 2>&1\ntouch ${marker}\n`,
    );
    chmodSync(fake, 0o755);
    const e = await rejection(dbtProject({ projectDir: dir, dbtExecutable: fake }));
    expect(e.reason).toBe("DBT_VERSION");
    expect(e.message).toContain(`${fake} is dbt-core 1.5.12; @baton/dbt needs dbt-core >=1.11.0 <1.12.0`);
    expect(e.hint).toMatch(/BATON_DBT_EXECUTABLE/);
    expect(existsSync(marker)).toBe(false); // stopped at its version line
  });

  it("a compilation error names the model and its file", async () => {
    const broken = copyFixture();
    mkdirSync(join(broken, "models/marts"), { recursive: true });
    writeFileSync(join(broken, "models/marts/broken.sql"), "select * from {{ ref('no_such_model') }}\n");
    const e = await rejection(dbtProject({ projectDir: broken, dbtExecutable: dbt }));
    expect(e.reason).toBe("COMPILATION");
    expect(e.message).toMatch(/model\.jaffle\.broken/);
    expect(e.message).toMatch(/models\/marts\/broken\.sql/);
    expect(e.message).toMatch(/no_such_model/);
  });
});
