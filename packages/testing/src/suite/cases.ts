import { expect } from "vitest";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { LocalIOStore } from "@baton/core";
import { EXPECTED_OUTPUTS, expectedKey } from "../fixtures/expected.js";
import type { Capability, HarnessEnvironment, HarnessRun, RuntimeHarness } from "./harness.js";

export interface CaseContext {
  readonly harness: RuntimeHarness;
  readonly environment: HarnessEnvironment;
  readonly store: LocalIOStore;
}

export interface ConformanceCase {
  readonly name: string;
  readonly capability: Capability;
  run(ctx: CaseContext): Promise<void>;
}

/** The stored output's hash and row count must equal the golden values of the fixtures. */
async function expectOutput(ctx: CaseContext, asset: string, partitionKey?: string): Promise<void> {
  const record = await ctx.store.readRecord(asset.split("/"), partitionKey);
  expect(record, `no stored output for ${expectedKey(asset, partitionKey)}`).toBeDefined();
  const golden = EXPECTED_OUTPUTS[expectedKey(asset, partitionKey)];
  expect(golden, `no golden value for ${expectedKey(asset, partitionKey)}`).toBeDefined();
  expect({ asset: expectedKey(asset, partitionKey), rowCount: record!.rowCount, contentHash: record!.contentHash }).toEqual({
    asset: expectedKey(asset, partitionKey),
    rowCount: golden!.rowCount,
    contentHash: golden!.contentHash,
  });
}

function expectSucceeded(run: HarnessRun, assets: readonly string[]): void {
  for (const id of assets) expect({ id, status: run.assets[id]?.status, error: run.assets[id]?.error ?? null }).toEqual({ id, status: "success", error: null });
  expect(run.status).toBe("success");
}

const SALES = ["raw/orders", "raw/customers", "customer_metrics", "region_customers", "region_report"];

export const CASES: readonly ConformanceCase[] = [
  {
    name: "a chain and a diamond materialize with the golden content hashes",
    capability: "materialize",
    async run(ctx) {
      const run = await ctx.harness.materialize({ assets: SALES });
      expectSucceeded(run, SALES);
      for (const id of SALES) await expectOutput(ctx, id);
    },
  },
  {
    name: "an Arrow table output is stored as Arrow and read as polars or Arrow as requested",
    capability: "arrow",
    async run(ctx) {
      const run = await ctx.harness.materialize({ assets: ["raw/customers", "region_customers"] });
      expectSucceeded(run, ["raw/customers", "region_customers"]);
      const record = await ctx.store.readRecord(["raw", "customers"], undefined);
      expect([record?.producedAs, record?.format]).toEqual(["arrow", "ipc"]);
      await expectOutput(ctx, "region_customers");
    },
  },
  {
    name: "an empty frame is a valid output with its schema",
    capability: "materialize",
    async run(ctx) {
      const run = await ctx.harness.materialize({ assets: ["raw/orders", "refunds"] });
      expectSucceeded(run, ["refunds"]);
      const record = await ctx.store.readRecord(["refunds"], undefined);
      expect(record?.rowCount).toBe(0);
      expect(record?.schema.map((c) => c.name)).toEqual(["order_id", "customer_id", "amount"]);
      await expectOutput(ctx, "refunds");
    },
  },
  {
    name: "a side-effect asset runs with a resource configured from the environment",
    capability: "sideEffects",
    async run(ctx) {
      const auditFile = join(ctx.environment.env.FIXTURE_AUDIT_DIR!, "audit.log");
      const before = existsSync(auditFile) ? readFileSync(auditFile, "utf8").split("\n").filter(Boolean).length : 0;
      const run = await ctx.harness.materialize({ assets: ["raw/orders", "raw/customers", "customer_metrics", "audit_log"] });
      expectSucceeded(run, ["audit_log"]);
      const lines = readFileSync(auditFile, "utf8").split("\n").filter(Boolean);
      expect(lines.length).toBe(before + 1);
      expect(lines.at(-1)).toBe(`published customer_metrics run=ok via ${ctx.environment.env.FIXTURE_API_URL} auth=yes`);
      const record = await ctx.store.readRecord(["audit_log"], undefined);
      expect([record?.format, record?.rowCount, record?.file]).toEqual(["none", null, null]);
    },
  },
  {
    name: "a daily partition materializes its own data",
    capability: "partitions",
    async run(ctx) {
      const run = await ctx.harness.materialize({ assets: ["web/events", "daily_event_counts"], partitionKey: "2024-01-03" });
      expectSucceeded(run, ["web/events", "daily_event_counts"]);
      await expectOutput(ctx, "web/events", "2024-01-03");
      await expectOutput(ctx, "daily_event_counts", "2024-01-03");
    },
  },
  {
    name: "a partition range materializes every partition in it",
    capability: "partitionRanges",
    async run(ctx) {
      const run = await ctx.harness.materialize({ assets: ["web/events", "daily_event_counts"], partitionRange: { start: "2024-01-01", end: "2024-01-07" } });
      expectSucceeded(run, ["web/events", "daily_event_counts"]);
      for (let d = 1; d <= 7; d++) await expectOutput(ctx, "daily_event_counts", `2024-01-0${d}`);
    },
  },
  {
    name: "a weekly partition reads the seven daily partitions of its window",
    capability: "partitionMappings",
    async run(ctx) {
      await ctx.harness.materialize({ assets: ["web/events", "daily_event_counts"], partitionRange: { start: "2024-01-01", end: "2024-01-07" } });
      const run = await ctx.harness.materialize({ assets: ["weekly_event_counts"], partitionKey: "2024-01-01" });
      expectSucceeded(run, ["weekly_event_counts"]);
      await expectOutput(ctx, "weekly_event_counts", "2024-01-01");
    },
  },
  {
    name: "an unpartitioned asset reads all upstream partitions",
    capability: "partitionMappings",
    async run(ctx) {
      await ctx.harness.materialize({ assets: ["web/events", "daily_event_counts"], partitionRange: { start: "2024-01-01", end: "2024-01-07" } });
      const run = await ctx.harness.materialize({ assets: ["events_summary"] });
      expectSucceeded(run, ["events_summary"]);
      await expectOutput(ctx, "events_summary");
    },
  },
  {
    name: "a static partition materializes its own slice",
    capability: "staticPartitions",
    async run(ctx) {
      await ctx.harness.materialize({ assets: ["raw/orders", "raw/customers"] });
      const run = await ctx.harness.materialize({ assets: ["regional_sales"], partitionKey: "eu" });
      expectSucceeded(run, ["regional_sales"]);
      await expectOutput(ctx, "regional_sales", "eu");
    },
  },
  {
    name: "an unknown partition key fails the run and names the key",
    capability: "partitions",
    async run(ctx) {
      const run = await ctx.harness.materialize({ assets: ["web/events"], partitionKey: "1999-12-31" });
      expect(run.status).toBe("failure");
      expect(run.assets["web/events"]?.status ?? "failure").not.toBe("success");
      expect(run.assets["web/events"]?.error ?? "").toContain("1999-12-31");
      expect(await ctx.store.readRecord(["web", "events"], "1999-12-31")).toBeUndefined();
    },
  },
  {
    name: "an asset that fails once succeeds on retry",
    capability: "retries",
    async run(ctx) {
      const run = await ctx.harness.materialize({ assets: ["flaky"] });
      expectSucceeded(run, ["flaky"]);
      expect(run.assets.flaky?.attempts).toBe(2);
      await expectOutput(ctx, "flaky");
    },
  },
  {
    name: "a failing asset fails the run with its message and its downstream does not run",
    capability: "failures",
    async run(ctx) {
      const run = await ctx.harness.materialize({ assets: ["broken", "after_broken"] });
      expect(run.status).toBe("failure");
      expect(run.assets.broken?.status).toBe("failure");
      expect(run.assets.broken?.error ?? "").toContain("broken: this asset always fails");
      expect(run.assets.after_broken?.status).toBe("skipped");
      expect(await ctx.store.readRecord(["after_broken"], undefined)).toBeUndefined();
    },
  },
  {
    name: "asset checks report a pass and a failure",
    capability: "checks",
    async run(ctx) {
      const run = await ctx.harness.materialize({ assets: ["raw/orders", "raw/customers", "customer_metrics", "refunds"] });
      expectSucceeded(run, ["customer_metrics", "refunds"]);
      const checks = run.checks.map((c) => `${c.asset}:${c.check}:${c.passed}`).sort();
      expect(checks).toEqual(["customer_metrics:non_negative_spend:true", "refunds:has_rows:false"]);
    },
  },
  {
    name: "a schedule tick runs the last complete day in the schedule's timezone",
    capability: "schedules",
    async run(ctx) {
      // 01:30 UTC on Jan 5 is 02:30 in Paris: the 02:00 tick has fired and Jan 4 is complete.
      const tick = await ctx.harness.scheduleTick("daily_events", new Date("2024-01-05T01:30:00Z"));
      expect(tick.skipReason).toBeNull();
      expect(tick.runRequests.map((r) => ({ assets: [...r.assets].sort(), partitionKey: r.partitionKey }))).toEqual([
        { assets: ["daily_event_counts", "web/events"], partitionKey: "2024-01-04" },
      ]);
    },
  },
  {
    name: "a sensor requests one partitioned run per new file and advances its cursor",
    capability: "sensors",
    async run(ctx) {
      const dir = ctx.environment.env.FIXTURE_LANDING_DIR!;
      mkdirSync(dir, { recursive: true });
      for (const day of ["2024-01-02", "2024-01-03", "2024-01-04"]) writeFileSync(join(dir, `events-${day}.ready`), "");
      const first = await ctx.harness.sensorTick("new_event_files", "2024-01-02");
      expect(first.skipReason).toBeNull();
      expect(first.runRequests.map((r) => [r.partitionKey, r.runKey, [...r.assets].sort().join(",")])).toEqual([
        ["2024-01-03", "events:2024-01-03", "daily_event_counts,web/events"],
        ["2024-01-04", "events:2024-01-04", "daily_event_counts,web/events"],
      ]);
      expect(first.cursor).toBe("2024-01-04");
      const second = await ctx.harness.sensorTick("new_event_files", first.cursor);
      expect(second.runRequests).toEqual([]);
      expect(second.skipReason).toContain("2024-01-04");
    },
  },
];
