import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import pl from "nodejs-polars";
import { asset, definitions, LocalIOStore, materialize, staticPartitions, type MaterializeResult } from "@baton/core";
import type { PythonEnv } from "@baton/testing";
import { dbtEnv, copyFixture, query } from "./__tests__/dbt-env.js";
import { dbtProject, type DbtProject } from "./project.js";
import { dbtAssets } from "./assets.js";

/**
 * The fixture as one asset group, run by the embedded executor with real dbt between TypeScript assets:
 * TS → dbt source → models → external model → TS. dbt runs through a wrapper that logs each start and its
 * CPU time, so the tests count the dbt builds of a run and measure what a start costs.
 */
let env: PythonEnv;
let dir: string;
let log: string;
let store: LocalIOStore;
let project: DbtProject;
let full: MaterializeResult;
let single: MaterializeResult;
let bad: MaterializeResult;
let pulledIn: MaterializeResult;
let partitioned: MaterializeResult;
let regionalStore: LocalIOStore;
/** The dbt builds each run started. */
const runBuilds: Record<"full" | "single" | "bad" | "pulledIn" | "partitioned", { args: string; cpu: number }[]> = { full: [], single: [], bad: [], pulledIn: [], partitioned: [] };

const DBT_ASSETS = ["customer_summary", "customers", "customers_snapshot", "order_priorities", "orders", "raw_customers", "raw_orders", "raw_payments", "stg_customers", "stg_orders", "stg_payments"];

const orderPriorities = asset({
  key: ["ts", "order_priorities"],
  compute: () => {
    const ids = Array.from({ length: 12 }, (_, i) => i + 1);
    return pl.DataFrame({ order_id: ids, priority: ids.map((id) => (id % 2 === 1 ? "high" : "low")) });
  },
});

/** The dbt starts logged so far, in start order: each one's arguments and CPU seconds (user + sys). */
function starts(): { args: string; cpu: number }[] {
  if (!existsSync(log)) return [];
  const lines = readFileSync(log, "utf8").trim().split("\n");
  const cpu = new Map(lines.flatMap((l) => {
    const m = /^cpu (\d+) (\S+) (\S+)/.exec(l);
    return m ? [[m[1]!, Number(m[2]) + Number(m[3])] as const] : [];
  }));
  return lines.flatMap((l) => {
    const m = /^start (\d+) (.*)$/.exec(l);
    return m ? [{ args: m[2]!, cpu: cpu.get(m[1]!) ?? Number.NaN }] : [];
  });
}
const builds = () => starts().filter((s) => / build /.test(` ${s.args} `));
/** Run one materialize() and keep the dbt builds it started. */
async function counted(name: keyof typeof runBuilds, run: () => Promise<MaterializeResult>): Promise<MaterializeResult> {
  const before = builds().length;
  const result = await run();
  runBuilds[name] = builds().slice(before);
  return result;
}

function projectOptions(): Parameters<typeof dbtProject>[0] {
  return {
    projectDir: dir,
    dbtExecutable: join(dir, "..", "dbt-logged"),
    sources: { "baton.order_priorities": { key: "ts/order_priorities", pathVar: "baton_order_priorities" } },
    outputs: { customer_summary: "baton_customer_summary" },
  };
}

beforeAll(async () => {
  env = dbtEnv();
  dir = copyFixture();
  log = join(dir, "..", "dbt-starts.log");
  const wrapper = join(dir, "..", "dbt-logged");
  // Each start and, by the wrapper's pid, its CPU time (concurrent starts would interleave).
  writeFileSync(
    wrapper,
    `#!/bin/sh\necho "start $$ $*" >> "${log}"\n/usr/bin/time -o "${log}.$$" -f "%U %S" "${env.bin("dbt")}" "$@"\nrc=$?\necho "cpu $$ $(tail -n 1 "${log}.$$")" >> "${log}"\nexit $rc\n`,
  );
  chmodSync(wrapper, 0o755);
  store = new LocalIOStore(join(dir, "store"));
  project = await dbtProject(projectOptions());
  const group = dbtAssets(project);
  const topCustomers = asset({
    key: ["ts", "top_customers"],
    inputs: { summary: group.asset("customer_summary") },
    compute: ({ summary }) => summary.sort("lifetime_value", true).head(3),
  });
  const defs = definitions({ assets: [orderPriorities, group, topCustomers] });
  full = await counted("full", () => materialize(defs, { store, env: {} }));
  // The adapters' path today: a step of one asset of the group.
  single = await counted("single", () => materialize(defs, { store, env: {}, selection: [group.asset("stg_customers")] }));

  // Bad nodes: one that fails to compile when built, one whose error-severity test fails (with a model
  // downstream of it), and a model in a folder named like the model orders (dbt's fqn: prefix).
  writeFileSync(join(dir, "models/marts/late_compile.sql"), "select 1 as x {% if execute %}{{ no_such_macro() }}{% endif %}\n");
  writeFileSync(join(dir, "models/marts/refunds.sql"), "select 1 as order_id, -5.0 as amount\n");
  writeFileSync(join(dir, "models/marts/refunds_report.sql"), "select count(*) as n from {{ ref('refunds') }}\n");
  writeFileSync(join(dir, "tests/assert_refunds_positive.sql"), "select * from {{ ref('refunds') }} where amount < 0\n");
  mkdirSync(join(dir, "models/marts/orders"));
  writeFileSync(join(dir, "models/marts/orders/orders_extra.sql"), "select 1 as x\n");
  // A model of a partition: its var is the partition key.
  writeFileSync(join(dir, "models/marts/region_rows.sql"), "select '{{ var(\"baton_region\", \"none\") }}' as region\n");
  const badProject = await dbtProject(projectOptions());
  const badGroup = dbtAssets(badProject);
  const refundAlert = asset({ key: ["ts", "refund_alert"], deps: [badGroup.asset("refunds_report")], compute: () => pl.DataFrame({ alert: [true] }) });
  const badDefs = definitions({ assets: [orderPriorities, badGroup, refundAlert] });
  const badSelection = [badGroup.asset("late_compile"), badGroup.asset("refunds"), badGroup.asset("refunds_report"), refundAlert];
  bad = await counted("bad", () => materialize(badDefs, { store, env: {}, selection: badSelection }));
  pulledIn = await counted("pulledIn", () => materialize(badDefs, { store, env: {}, selection: [badGroup.asset("orders")] }));
  const regional = dbtAssets(badProject, { name: "dbt_regional", partitions: staticPartitions(["eu", "us"]), partitionVars: (ctx) => ({ baton_region: ctx.partitionKey }) });
  regionalStore = new LocalIOStore(join(dir, "store-regional"));
  partitioned = await counted("partitioned", () =>
    materialize(definitions({ assets: [orderPriorities, regional] }), { store: regionalStore, env: {}, selection: [regional.asset("region_rows")], partition: "us" }),
  );
});

describe("dbtAssets: a dbt project as one asset group on the embedded executor", () => {
  it("materializes the whole project with ONE dbt build, between TypeScript assets", async () => {
    expect(full.failure).toBeNull();
    expect(full.status).toBe("success");
    expect(runBuilds.full).toHaveLength(1);
    expect(runBuilds.full[0]!.args).toMatch(/--indirect-selection empty/);
    for (const id of [...DBT_ASSETS, "ts/order_priorities", "ts/top_customers"]) expect(full.assets[id]?.status, id).toBe("success");
    // One parse (dbtProject) and one build for the 11 dbt assets and their tests, in the first run.
    const first = starts().slice(0, 2);
    expect(first.map((s) => s.args.split(" ")[2])).toEqual(["parse", "build"]);
    expect(first[1]!.args.match(/fqn:/g)).toHaveLength(DBT_ASSETS.length + project.specs.reduce((n, s) => n + s.checks.length, 0));
    // The source read the TS asset's exact data file (the path its record names), in the source's var.
    const record = (await store.readRecord(orderPriorities.key, undefined))!;
    expect(first[1]!.args).toContain(`"baton_order_priorities":"${store.locationOf(orderPriorities.key, undefined, record.file!)}"`);
    expect(query(env, "select priority, count(*) as n from main.order_priorities group by priority order by priority", join(dir, "jaffle.duckdb"))).toEqual([
      { priority: "high", n: 6 },
      { priority: "low", n: 6 },
    ]);
  });

  it("records every dbt asset: the external model's data file with its content hash, a relation record for the others", async () => {
    for (const id of DBT_ASSETS) {
      const record = (await store.readRecord(id.split("/"), undefined))!;
      expect(record, id).toBeDefined();
      expect(record.codeVersion, id).toBe(project.spec(id).codeVersion);
      if (id === "customer_summary") {
        expect(record).toMatchObject({ format: "parquet", rowCount: 8 });
        expect(record.contentHash).toMatch(/^[0-9a-f]{16,}$/);
        const data = pl.readParquet(store.locationOf(["customer_summary"], undefined, record.file!));
        expect(data.height).toBe(8);
        expect(data.getColumn("number_of_orders").sum()).toBe(12);
      } else {
        expect(record, id).toMatchObject({ format: "none", file: null });
      }
    }
    // dbt's metadata on the materializations.
    const seed = full.assets["raw_orders"]!.materializations[0]!.metadata.user;
    expect(seed).toMatchObject({ "dbt/rows_affected": 12, "dbt/unique_id": "seed.jaffle.raw_orders", "dbt/relation_name": '"jaffle"."main"."raw_orders"' });
    expect(full.assets["customer_summary"]!.materializations[0]!.metadata.user["dbt/external_location"]).toBeUndefined();
    // The TS asset downstream of the external model read its committed file.
    const top = (await store.readRecord(["ts", "top_customers"], undefined))!;
    expect(top.rowCount).toBe(3);
  });

  it("reports dbt's tests as checks: a failing warn test is a warn check and the run succeeds; the relationships test passes", () => {
    const warn = full.assets["stg_payments"]!.checks.find((c) => c.check.startsWith("accepted_values_stg_payments_payment_method"))!;
    expect(warn).toMatchObject({ passed: false, severity: "warn" });
    const rel = full.assets["stg_orders"]!.checks.find((c) => c.check.startsWith("relationships_stg_orders_customer_id"))!;
    expect(rel).toMatchObject({ passed: true, severity: "error" });
    const all = Object.values(full.assets).flatMap((a) => a.checks);
    expect(all).toHaveLength(project.specs.reduce((n, s) => n + s.checks.length, 0));
    expect(all.filter((c) => !c.passed)).toHaveLength(1);
  });

  it("a step of one asset of the group (the adapters' path) builds that node and its tests only", () => {
    expect(single.status).toBe("success");
    expect(runBuilds.single).toHaveLength(1);
    const build = runBuilds.single[0]!;
    const selectors = build.args.match(/fqn:\S+/g)!;
    expect(selectors).toHaveLength(1 + project.spec("stg_customers").checks.length);
    expect(selectors[0]).toBe("fqn:jaffle.staging.stg_customers");
    expect(Object.keys(single.assets)).toEqual(["stg_customers"]);
  });

  it("measures: one dbt start per step, the group's one build vs. a build per model", () => {
    const [groupBuild, oneModel] = [runBuilds.full[0], runBuilds.single[0]];
    const perModel = oneModel!.cpu * DBT_ASSETS.length;
    console.log(
      `dbt CPU (user+sys): parse ${starts()[0]!.cpu.toFixed(1)} s; one build of the group's ${DBT_ASSETS.length} assets + tests ${groupBuild!.cpu.toFixed(1)} s; ` +
        `a one-model step ${oneModel!.cpu.toFixed(1)} s → a step per model ≈ ${perModel.toFixed(1)} s (${(perModel / groupBuild!.cpu).toFixed(1)}×)`,
    );
    expect(oneModel!.cpu).toBeGreaterThan(1);
    expect(groupBuild!.cpu).toBeLessThan(perModel / 3);
  });

  it("a failing error-severity test is CHECK_FAILED, dbt's skipped model a failure, the TS asset downstream skipped; a compilation error names the model and file and leaves no record", async () => {
    expect(bad.status).toBe("failure");
    expect(runBuilds.bad).toHaveLength(1);
    expect(runBuilds.bad[0]!.args.match(/fqn:\S+/g)!.sort()).toEqual(["fqn:jaffle.assert_refunds_positive", "fqn:jaffle.marts.late_compile", "fqn:jaffle.marts.refunds", "fqn:jaffle.marts.refunds_report"]);
    const refunds = bad.assets["refunds"]!;
    expect(refunds.checks).toEqual([expect.objectContaining({ check: "assert_refunds_positive", passed: false, severity: "error" })]);
    expect(refunds.error?.code).toBe("CHECK_FAILED");
    const report = bad.assets["refunds_report"]!;
    expect(report.status).toBe("failure");
    expect(report.error?.message).toMatch(/dbt skipped model\.jaffle\.refunds_report \(models\/marts\/refunds_report\.sql\)/);
    expect(await store.readRecord(["refunds_report"], undefined)).toBeUndefined();
    expect(bad.assets["ts/refund_alert"]!.status).toBe("skipped");
    const late = bad.assets["late_compile"]!;
    expect(late.status).toBe("failure");
    expect(late.error?.code).toBe("INVALID_DEFINITION");
    expect(late.error?.message).toMatch(/asset "late_compile" \(models\/marts\/late_compile\.sql\).*Compilation Error/s);
    expect(late.error?.message).toMatch(/no_such_macro/);
    expect(await store.readRecord(["late_compile"], undefined)).toBeUndefined();
  });

  it("a node dbt's fqn: selector pulls in that Baton did not select fails the step, naming it and its file", () => {
    expect(pulledIn.status).toBe("failure");
    expect(runBuilds.pulledIn).toHaveLength(1);
    const error = pulledIn.assets["orders"]!.error!;
    expect(error.message).toMatch(/model\.jaffle\.orders_extra \(models\/marts\/orders\/orders_extra\.sql\), which Baton did not select/);
    expect(error.code).toBe("INVALID_DEFINITION");
  });

  it("a partitioned group passes each partition's vars to its build (partitionVars)", async () => {
    expect(partitioned.status).toBe("success");
    expect(runBuilds.partitioned).toHaveLength(1);
    expect(runBuilds.partitioned[0]!.args).toContain('"baton_region":"us"');
    expect(query(env, "select region from main.region_rows", join(dir, "jaffle.duckdb"))).toEqual([{ region: "us" }]);
    expect(await regionalStore.readRecord(["region_rows"], "us")).toMatchObject({ format: "none", partitionKey: "us" });
  });
});
