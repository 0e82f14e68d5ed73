import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeHarnessEnvironment } from "@baton/testing";
import type { Manifest } from "@baton/core";
import { dagsterEnv, startDagster, type DagsterDriver } from "./__tests__/dagster-harness.js";
import { checkOpName, dagsterPlan } from "./plan.js";

interface DagsterAsset {
  deps: string[];
  partitions: { class: string; keys: string[]; count: number; timezone: string | null; fmt: string | null } | null;
  mappings: Record<string, string>;
  checks: string[];
  checkNodes: Record<string, { deps: string[]; blocking: boolean; op: string }>;
  group: string;
  kinds: string[];
  tableName: string | null;
  codeVersion: string | null;
  owners: string[];
  op: string;
}

const MAPPINGS = { identity: "IdentityPartitionMapping", timeWindow: "TimeWindowPartitionMapping", allPartitions: "AllPartitionMapping" } as const;
const CLASSES = { hourly: "HourlyPartitionsDefinition", daily: "DailyPartitionsDefinition", weekly: "WeeklyPartitionsDefinition", monthly: "MonthlyPartitionsDefinition" } as const;

describe("the emitted Dagster code location", () => {
  let driver: DagsterDriver;
  let manifest: Manifest;
  let outDir: string;
  let module: string;
  let graph: Record<string, DagsterAsset>;

  beforeAll(async () => {
    const started = await startDagster(makeHarnessEnvironment());
    driver = started.driver;
    manifest = started.project.manifest;
    outDir = started.project.outDir;
    module = started.project.module;
    graph = (await driver.request<{ assets: Record<string, DagsterAsset> }>({ op: "graph" })).assets;
  }, 600_000);

  // A loaded machine can take longer than vitest's 10 s default for the driver to exit.
  afterAll(async () => {
    await driver?.close();
  }, 60_000);

  it("loads as a code-location image would: `dagster definitions validate -m <module>.definitions -d src`", () => {
    const out = execFileSync(dagsterEnv().bin("dagster"), ["definitions", "validate", "-m", `${module}.definitions`, "-d", "src"], { cwd: outDir, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    expect(out + "").not.toContain("failed");
  }, 120_000);

  it("has the manifest's asset keys, deps, groups, kinds, tables and code versions", () => {
    expect(Object.keys(graph).sort()).toEqual(manifest.assets.map((a) => a.key.join("/")).sort());
    for (const a of manifest.assets) {
      const d = graph[a.key.join("/")]!;
      expect({ id: a.id, deps: d.deps, group: d.group, kinds: d.kinds, codeVersion: d.codeVersion, owners: d.owners, tableName: d.tableName }).toEqual({
        id: a.id,
        deps: a.deps.map((x) => x.key.join("/")).sort(),
        group: a.group,
        // The language and the stored format (baton_dagster.assets.asset_kinds).
        kinds: a.output === "none" ? ["typescript"] : [a.format, "typescript"].sort(),
        codeVersion: a.codeVersion,
        owners: [...a.owners],
        // A table output's table, as Dagster's catalog reads it (dagster/table_name); none for a file.
        tableName: a.table?.name ?? null,
      });
    }
  });

  it("has the manifest's partitions and partition mappings", () => {
    for (const a of manifest.assets) {
      const d = graph[a.key.join("/")]!;
      const p = a.partitions;
      if (p === null) expect(d.partitions, a.id).toBeNull();
      else if (p.type === "static") expect([d.partitions?.class, d.partitions?.count]).toEqual(["StaticPartitionsDefinition", p.keys.length]);
      else expect([d.partitions?.class, d.partitions?.timezone, d.partitions?.fmt, d.partitions?.keys[0]?.slice(0, 10)]).toEqual([CLASSES[p.grain], p.timezone, p.format, p.start.slice(0, 10)]);
      const expected = Object.fromEntries(a.deps.filter((x) => x.partitionMapping).map((x) => [x.key.join("/"), MAPPINGS[x.partitionMapping!.type]]));
      expect(d.mappings, a.id).toEqual(expected);
    }
  });

  it("has one asset check per Baton check", () => {
    for (const a of manifest.assets) expect(graph[a.key.join("/")]!.checks, a.id).toEqual(a.checks.map((c) => c.name).sort());
  });

  it("has each standalone check in an op of its own, downstream of its target and inputs (additional_deps), not blocking; inline checks in their asset's op", () => {
    let standalone = 0;
    for (const a of manifest.assets) {
      const node = graph[a.key.join("/")]!;
      for (const c of a.checks) {
        if (c.standalone === true) standalone++;
        expect(node.checkNodes[c.name], `${a.id}:${c.name}`).toEqual(
          c.standalone === true
            ? { deps: (c.deps ?? []).map((d) => d.key.join("/")).sort(), blocking: false, op: checkOpName(a, c.name) }
            : { deps: [], blocking: c.severity === "error", op: node.op },
        );
      }
    }
    expect(standalone, "the fixtures' standalone checks").toBeGreaterThanOrEqual(3);
  });

  it("groups assets into one multi-asset per group, partitions and retry policy", () => {
    const ops = Object.fromEntries(Object.entries(graph).map(([k, v]) => [k, v.op]));
    expect(ops).toEqual({
      "raw/orders": "sales",
      "raw/customers": "sales",
      customer_metrics: "sales",
      region_customers: "sales",
      region_report: "sales",
      refunds: "sales",
      audit_log: "sales",
      "web/events": "events__daily",
      daily_event_counts: "events__daily",
      weekly_event_counts: "events__weekly",
      events_summary: "events",
      regional_sales: "regional__static",
      flaky: "reliability__retry",
      broken: "reliability",
      after_broken: "reliability",
      "truth/never_settles": "truth",
      "truth/exits_early": "truth",
      "truth/strict": "truth",
      "truth/strict_child": "truth",
      "truth/sibling_ok": "truth",
      "truth/sibling_fail": "truth",
      "truth/sleeper": "truth",
      "truth/needs_missing_env": "truth__retry",
      spins: "timeouts",
      after_spins: "timeouts",
      waits: "timeouts",
      "secrets/prints": "secrets",
      "secrets/teardown_throws": "secrets",
      "secrets/check_metadata": "secrets",
      "dst/hourly": "dst__hourly",
      "dst/daily": "dst__daily",
      "standalone/order_count": "standalone",
      "standalone/downstream": "standalone",
      "standalone/daily": "standalone__daily",
      iceberg_orders: "iceberg",
      iceberg_order_totals: "iceberg",
      iceberg_daily_events: "iceberg__daily",
      iceberg_daily_event_counts: "iceberg__daily",
    });
  });

  it("says what `baton dagster plan` says: the same op per asset as Dagster loaded", () => {
    const plan = dagsterPlan(manifest);
    for (const a of plan.assets) expect(a.becomes[1], a.id).toBe(`op ${graph[manifest.assets.find((m) => m.id === a.id)!.key.join("/")]!.op} in multi-asset ${graph[manifest.assets.find((m) => m.id === a.id)!.key.join("/")]!.op} (a Node step through Dagster Pipes)`);
  });

  it("refuses, on the Python side, a manifest version it does not read, naming both versions", () => {
    const dir = mkdtempSync(join(tmpdir(), "baton-dagster-version-"));
    writeFileSync(join(dir, "manifest.json"), JSON.stringify({ ...manifest, manifestVersion: 99 }));
    writeFileSync(join(dir, "build.json"), JSON.stringify({ options: {}, storage: null, target: "dagster" }));
    // The installed baton_dagster wheel, as in a deployment (no path manipulation).
    const script = `from baton_dagster import build_definitions\nbuild_definitions(${JSON.stringify(join(dir, "manifest.json"))})`;
    let stderr = "";
    try {
      execFileSync(dagsterEnv().python, ["-c", script], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    } catch (e) {
      stderr = String((e as { stderr?: string }).stderr);
    }
    expect(stderr).toContain(`manifest version 99 in ${join(dir, "manifest.json")} is not one baton_dagster can read (it reads 2)`);
  }, 180_000);

  it("never writes secrets or their values into the project", () => {
    const text = execFileSync("cat", [join(outDir, "baton", "manifest.json"), join(outDir, "baton", "build.json"), join(outDir, "pyproject.toml"), join(outDir, "src", module, "defs", "baton", "defs.yaml")], { encoding: "utf8" });
    expect(text).toContain("FIXTURE_API_TOKEN");
    expect(text).not.toMatch(/tok-[a-z0-9]+/);
  });
});
