import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pl from "nodejs-polars";
import { describe, expect, it } from "vitest";
import { asset, assetCheck, dailyPartitions, definitions, loadDefinitions, resource, schedule, toManifest, type Definitions, type Manifest } from "@baton/core";
import { ensurePythonEnv } from "@baton/testing";
import { fixtureModulePath } from "@baton/testing/fixtures";
import { AIRFLOW_REQUIREMENTS, adapter } from "./adapter.js";
import { DAG_FILE, IGNORE_FILE, POOLS_FILE } from "./emit.js";
import { airflowId, assetUri, checkTaskId, dagIdsFor } from "./ids.js";
import { mappingProblems, type AirflowOptions } from "./options.js";

const module = fixtureModulePath();
const manifestOf = (defs: Definitions): Manifest => toManifest(defs, { module, manifestDir: "/out/baton", moduleHash: `sha256:${"0".repeat(64)}` });
const fixture = manifestOf(await loadDefinitions(module));
const defaults: AirflowOptions = adapter.resolveOptions({}, { name: undefined });
const text = (content: string | Uint8Array) => (typeof content === "string" ? content : new TextDecoder().decode(content));
const emitted = (manifest = fixture, options = defaults) =>
  Object.fromEntries(adapter.emit({ manifest, options, storage: null, projectName: "fixture" }).map((f) => [f.path, text(f.content)]));

describe("emit", () => {
  const noPools = manifestOf(definitions({ assets: [asset({ key: "a", compute: () => undefined, output: "none" })] }));
  const withPools = manifestOf(
    definitions({
      assets: [asset({ key: "load", compute: () => undefined, output: "none", pool: "warehouse" }), asset({ key: "ship", compute: () => undefined, output: "none", pool: "api" })],
      pools: { warehouse: { limit: 2, description: "the DWH allows 2 sessions" }, api: { limit: 1 } },
    }),
  );

  it("writes one DAG file and one root .airflowignore, and the pools file only when there are pools (core writes baton/, wheels/ and requirements.txt)", () => {
    expect(Object.keys(emitted(noPools)).sort()).toEqual([IGNORE_FILE, DAG_FILE]);
    expect(Object.keys(emitted(withPools)).sort()).toEqual([IGNORE_FILE, POOLS_FILE, DAG_FILE].sort());
  });

  it("writes the pools as `airflow pools import` reads them: slots and a description for each", () => {
    expect(JSON.parse(emitted(withPools)[POOLS_FILE]!)).toEqual({
      api: { slots: 1, description: "Baton pool api", include_deferred: false },
      warehouse: { slots: 2, description: "the DWH allows 2 sessions", include_deferred: false },
    });
    const steps = adapter.nextSteps("out", { manifest: withPools, options: defaults, storage: null, projectName: "fixture" }).join("\n");
    expect(steps).toContain("create the pools api (1 slot), warehouse (2 slots): airflow pools import out/airflow-pools.json");
    expect(adapter.nextSteps("out", { manifest: noPools, options: defaults, storage: null, projectName: "fixture" }).join("\n")).not.toContain("pools");
  });

  it("the DAG file imports the installed baton_airflow and reads the manifest next to itself: no sys.path, no absolute path", () => {
    const dag = emitted()[DAG_FILE]!;
    expect(dag).toContain("from baton_airflow import build_dags");
    expect(dag).toContain('build_dags(Path(__file__).parent / "baton" / "manifest.json")');
    expect(dag).not.toMatch(/sys\.path|import sys|\.\.\/|\/work\/|subprocess/);
    // dag_discovery_safe_mode only parses files that mention both words.
    expect(dag.toLowerCase()).toContain("airflow");
    expect(dag.toLowerCase()).toContain("dag");
  });

  it("the DAG file is ruff clean (lint with Airflow's rules, and formatted), as the repository's ruff and a user's plain ruff see it", () => {
    const ruff = ensurePythonEnv({ name: "ruff", requirements: fileURLToPath(new URL("../../../scripts/requirements-lint.txt", import.meta.url)) }).bin("ruff");
    const dir = mkdtempSync(join(tmpdir(), "baton-airflow-ruff-"));
    const file = join(dir, DAG_FILE);
    writeFileSync(file, emitted()[DAG_FILE]!);
    const config = fileURLToPath(new URL("../python/ruff.toml", import.meta.url));
    for (const args of [["check", "--config", config], ["format", "--check", "--config", config], ["check", "--isolated", "--extend-select", "AIR"]]) {
      expect(execFileSync(ruff, [...args, file], { encoding: "utf8" })).toMatch(/All checks passed|1 file already formatted/);
    }
  });

  it("keeps the Node runtime and the wheels out of the DAG processor, anchored at the bundle root", () => {
    const lines = emitted()[IGNORE_FILE]!.split("\n").filter((l) => l && !l.startsWith("#"));
    expect(lines).toEqual(["/baton/", "/wheels/"]);
  });

  it("is the same for any manifest and options: the DAG file holds no configuration", () => {
    const other = emitted(noPools, adapter.resolveOptions({ "dag-id-prefix": "shop" }, { name: undefined }));
    expect(other[DAG_FILE]).toEqual(emitted()[DAG_FILE]);
    expect(other[IGNORE_FILE]).toEqual(emitted()[IGNORE_FILE]);
  });
});

describe("resolveOptions", () => {
  it("defaults to the baton prefix and no resource mapping", () => {
    expect(defaults).toEqual({ dagIdPrefix: "baton", resources: {}, storageConnection: null });
  });

  it("takes the store's AWS connection id from the flag or package.json, and refuses a value that is not a connection id", () => {
    expect(adapter.resolveOptions({ "storage-connection": "baton_storage" }, { name: undefined }).storageConnection).toBe("baton_storage");
    expect(adapter.resolveOptions({ storageConnection: "s3.store" }, { name: undefined }).storageConnection).toBe("s3.store");
    expect(() => adapter.resolveOptions({ storageConnection: "not a conn id" }, { name: undefined })).toThrow(/storage-connection must be an Airflow connection id/);
  });

  it("names the store's connection in the next steps only when the build has one", () => {
    const steps = (storageConnection: string | null) =>
      adapter.nextSteps("out", { manifest: fixture, options: { ...defaults, storageConnection }, storage: "s3://b/p", projectName: "fixture" }).join("\n");
    expect(steps("baton_storage")).toContain("create the Airflow AWS connection baton_storage");
    expect(steps("baton_storage")).toContain("AIRFLOW_CONN_BATON_STORAGE");
    expect(steps(null)).not.toContain("AWS connection");
  });

  it("takes the flag's kebab-case or package.json's camelCase, and sorts the mapping (build.json is deterministic)", () => {
    expect(adapter.resolveOptions({ "dag-id-prefix": "shop" }, { name: undefined }).dagIdPrefix).toBe("shop");
    expect(adapter.resolveOptions({ dagIdPrefix: "shop" }, { name: undefined }).dagIdPrefix).toBe("shop");
    const r = adapter.resolveOptions({ resources: { z: { variable: "z" }, a: { connection: "a" } } }, { name: undefined });
    expect(Object.keys(r.resources)).toEqual(["a", "z"]);
  });

  it("refuses values of the wrong type, naming the option", () => {
    expect(() => adapter.resolveOptions({ "dag-id-prefix": 3 }, { name: undefined })).toThrow(/option dag-id-prefix must be a non-empty string/);
    expect(() => adapter.resolveOptions({ resources: ["x"] }, { name: undefined })).toThrow(/option resources must be a JSON object/);
    expect(() => adapter.resolveOptions({ resources: { a: "conn" } }, { name: undefined })).toThrow(/option resources must be a JSON object/);
  });
});

describe("problems: Airflow's parse-time rules at build time", () => {
  const none = (key: string) => asset({ key, compute: () => undefined, output: "none" });
  const problemsOf = (defs: Definitions, options: Readonly<Record<string, unknown>> = {}) => adapter.problems(manifestOf(defs), adapter.resolveOptions(options, { name: undefined }));

  it("the fixture builds", () => {
    expect(adapter.problems(fixture, defaults)).toEqual([]);
  });

  it("names both definitions whose names become one Airflow id", () => {
    const d = definitions({ assets: [asset({ key: ["x", "y"], compute: () => undefined, output: "none" }), none("x__y")], schedules: [schedule({ name: "s", cron: "0 * * * *", selection: "x/y" })] });
    expect(problemsOf(d)).toEqual(['assets "x/y" and "x__y" both become Airflow id "x__y"; rename one']);
  });

  it("refuses assets named like the DAG's own tasks or Airflow's reserved asset names", () => {
    const d = definitions({ assets: [none("plan"), none("outcome"), none("self")] });
    const problems = problemsOf(d);
    expect(problems.filter((p) => p.includes("already uses for its own task")).map((p) => p.split(" ")[1])).toEqual(['"plan"', '"outcome"']);
    expect(problems).toContain('asset "self": Airflow refuses an Asset named "self" (it is reserved); rename the asset');
  });

  it("refuses a standalone check whose task id is an asset's, Baton's own or over 250 characters", () => {
    const orders = none("orders");
    const check = (name: string) => assetCheck({ name, asset: orders, check: () => true });
    const d = definitions({ assets: [orders, none("orders__ok")], checks: [check("ok"), check("fine"), check("c".repeat(250))] });
    expect(problemsOf(d)).toEqual([
      'check "ok" of asset "orders" becomes Airflow task id "orders__ok", as asset "orders__ok" does; rename one',
      expect.stringMatching(/^check "c+" of asset "orders" becomes an Airflow task id of 258 characters/),
    ]);
    expect(problemsOf(definitions({ assets: [none("inline_checks")] }))).toEqual([expect.stringContaining("already uses for its own task")]);
    expect(checkTaskId("raw/orders", "no nulls")).toBe("raw__orders__no_nulls");
  });

  it("refuses ids longer than Airflow's 250 characters and a prefix Airflow's key rule refuses", () => {
    const long = "k".repeat(251);
    expect(problemsOf(definitions({ assets: [none(long)] }))[0]).toMatch(/becomes an Airflow task id of 251 characters; Airflow allows at most 250/);
    const name = "s".repeat(240);
    const d = definitions({ assets: [none("a")], schedules: [schedule({ name, cron: "0 * * * *", selection: "a" })] });
    expect(problemsOf(d)).toEqual([expect.stringMatching(/^schedule "s+": its DAG id "baton_schedule_s+…" has 255 characters/)]);
    expect(problemsOf(definitions({ assets: [none("a")] }), { dagIdPrefix: "bad prefix" })).toEqual(['dagIdPrefix "bad prefix" may only hold letters, digits, "_", "." and "-" (Airflow\'s DAG id rule)']);
  });

  it("refuses a cron Airflow's croniter rejects (L in the day of week) and accepts the rest", () => {
    const d = (cron: string) => definitions({ assets: [none("a")], schedules: [schedule({ name: "s", cron, selection: "a" })] });
    expect(problemsOf(d("0 0 * * 5L"))).toEqual([expect.stringContaining('schedule "s": cron "0 0 * * 5L" uses "L" in the day-of-week field')]);
    expect(problemsOf(d("0 0 * * FRIL"))).toHaveLength(1);
    for (const ok of ["0 0 L * *", "0 0 * * SUN-SAT", "0 0 * * MON#1", "0 0 * * 1-5"]) expect({ ok, problems: problemsOf(d(ok)) }).toEqual({ ok, problems: [] });
  });

  it("checks the resource mapping against the definitions, naming the resource", () => {
    expect(adapter.problems(fixture, adapter.resolveOptions({ resources: { nope: { variable: "x" } } }, { name: undefined }))).toEqual([expect.stringMatching(/^resources\.nope: there is no Baton resource "nope"/)]);
    expect(adapter.problems(fixture, adapter.resolveOptions({ resources: { audit_api: { connection: "a", fields: { token: "secret_field" } } } }, { name: undefined }))).toEqual([
      expect.stringContaining('resources.audit_api.fields.token: "secret_field" is not a connection field'),
    ]);
    expect(mappingProblems({ audit_api: { connection: "a", fields: { nofield: "host" } } }, [{ key: "audit_api", config: [{ field: "url" }] }])).toEqual([
      'resources.audit_api.fields.nofield: resource "audit_api" has no config field "nofield" (it has url)',
    ]);
    // A flat extra key with dots (pyiceberg's property names), as an Iceberg connection holds them.
    const lake = [{ key: "lake", config: [{ field: "s3Endpoint" }] }];
    expect(mappingProblems({ lake: { connection: "iceberg", fields: { s3Endpoint: "extra.s3.endpoint" } } }, lake)).toEqual([]);
    expect(mappingProblems({ lake: { connection: "iceberg", fields: { s3Endpoint: "extra." } } }, lake)).toEqual([expect.stringContaining('"extra." is not a connection field')]);
  });
});

describe("plan", () => {
  const plan = adapter.plan(fixture, defaults);

  it("says which Iceberg table an asset is stored in, and where its catalog's settings come from", () => {
    const lake = resource({ create: () => ({}) });
    const events = asset({
      key: "events",
      partitions: dailyPartitions({ start: "2024-01-01" }),
      resources: { lake },
      io: { format: "iceberg", catalog: "lake", table: "analytics.events", partitionColumn: "day" },
      compute: (_i, ctx) => pl.DataFrame({ day: [ctx.partitionKey] }),
    });
    const counts = asset({ key: "counts", partitions: dailyPartitions({ start: "2024-01-01" }), inputs: { events }, compute: () => pl.DataFrame({ n: [1] }) });
    const m = manifestOf(definitions({ assets: [events, counts] }));
    const [written, read] = adapter.plan(m, adapter.resolveOptions({ resources: { lake: { connection: "iceberg_lake" } } }, { name: undefined })).assets;
    expect(written!.becomes).toContain(
      "stored in Iceberg table analytics.events (catalog resource lake, replace, partition column day): each asset event's extra has table and snapshot_id (the snapshot its record pins)",
    );
    // The reader builds the catalog too (core's step resources), so its task gets the connection.
    expect(read!.becomes).toContain("resource lake from Airflow Connection iceberg_lake");
    expect(read!.becomes.some((b) => b.startsWith("stored in"))).toBe(false);
  });

  it("covers every asset, schedule and sensor of the manifest, and every dependency", () => {
    expect(plan.target).toBe("airflow");
    expect(plan.assets.map((a) => a.id)).toEqual(fixture.assets.map((a) => a.id));
    expect(plan.schedules.map((s) => s.name)).toEqual(fixture.schedules.map((s) => s.name));
    expect(plan.sensors.map((s) => s.name)).toEqual(fixture.sensors.map((s) => s.name));
    expect(plan.edges.map((e) => `${e.from}>${e.to}`)).toEqual(fixture.assets.flatMap((a) => a.deps.map((d) => `${d.id}>${a.id}`)));
  });

  it("names the DAGs, task ids, Asset URIs and timetables the build creates", () => {
    for (const a of plan.assets) {
      const inSchedules = fixture.schedules.filter((s) => s.assets.includes(a.id)).length;
      expect(a.becomes.filter((b) => b.startsWith(`task ${airflowId(a.id)} `))).toHaveLength(1 + inSchedules);
      expect(a.becomes.some((b) => b.includes(`uri ${assetUri(a.id)}`))).toBe(true);
      expect(a.partitions === null).toBe(fixture.assets.find((x) => x.id === a.id)!.partitions === null);
    }
    const s = fixture.schedules[0]!;
    expect(plan.schedules[0]!.becomes).toContain(`DAG baton_schedule_${airflowId(s.name)} on BatonCronTimetable("${s.cron}", "${s.timezone}")`);
    expect(plan.sensors[0]!.becomes).toMatch(/^DAG baton_sensor_\S+ \(@continuous, max_active_runs=1, max_consecutive_failed_dag_runs=3\)/);
    expect(dagIdsFor(fixture, "shop")).toEqual(["shop_assets", ...fixture.schedules.map((x) => `shop_schedule_${airflowId(x.name)}`), ...fixture.sensors.map((x) => `shop_sensor_${airflowId(x.name)}`)]);
  });

  it("says where each standalone check runs and how to run checks alone", () => {
    const table = (key: string) => asset({ key, compute: () => pl.DataFrame({ x: [1] }) });
    const [orders, customers] = [table("orders"), table("customers")];
    const d = definitions({
      assets: [orders, customers],
      checks: [assetCheck({ name: "has_customers", asset: orders, inputs: { customers }, severity: "warn", check: () => true })],
    });
    const becomes = adapter.plan(manifestOf(d), defaults).assets.find((a) => a.id === "orders")!.becomes;
    expect(becomes).toContain(
      'standalone check has_customers (warn) → task orders__has_customers (BatonCheckOperator, baton-step check) after orders, customers in every DAG holding orders; inlets, no outlets; a failure is a warning; alone: trigger the DAG with conf checks ["orders:has_customers"], or clear the task instance',
    );
  });

  it("lists exponential retry backoff as degraded, naming the asset", () => {
    const d = definitions({ assets: [asset({ key: "r", compute: () => undefined, output: "none", retry: { maxRetries: 2, delaySeconds: 1, backoff: "exponential" } })] });
    expect(adapter.plan(manifestOf(d), defaults).unsupported).toEqual([{ definition: "asset r retry backoff", reason: expect.stringContaining("retry_exponential_backoff") }]);
  });
});

describe("python", () => {
  it("pins the orchestrator exactly as the tests' environment does, and ships the baton-airflow wheel", () => {
    const pinned = readFileSync(new URL("../python/requirements-test.txt", import.meta.url), "utf8").split("\n");
    for (const r of AIRFLOW_REQUIREMENTS) expect(pinned).toContain(r);
    const { wheels, requirements } = adapter.python();
    expect(requirements).toEqual([...AIRFLOW_REQUIREMENTS]);
    expect(wheels).toEqual([expect.stringMatching(/\/python\/dist\/baton_airflow-0\.1\.0-py3-none-any\.whl$/)]);
  });

  it("launches core's step entry", () => {
    expect(adapter.runtime).toEqual({ stepPackage: "@baton/core", stepBin: "dist/step/bin.js" });
  });
});
