import { expect } from "vitest";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { controlFile, startedMarker } from "../fixtures/control.js";
import {
  EXPECTED_METADATA,
  ORDER_COUNT,
  ORDER_COUNT_DOWNSTREAM,
  STANDALONE_CHECKS,
  STANDALONE_DAILY,
  STANDALONE_MISSING_PARTITION,
  STANDALONE_PARTITION,
  expectedKey,
  type ExpectedCheck,
} from "../fixtures/expected.js";
import { processAlive } from "../process.js";
import { waitFor } from "../wait.js";
import { expectFailedWithout, expectNoCanary, expectOutput, expectSucceeded, expectTimedOut, filesUnder, recordedKeys, sharedRun, type CaseContext, type ConformanceCase } from "./case-kit.js";
import type { CheckRequest, HarnessRun } from "./harness.js";
import { ICEBERG_CASES } from "./iceberg-cases.js";

export type { CaseContext, ConformanceCase } from "./case-kit.js";

// ---- Standalone checks and metadata (issue 14, CHECKS-CONTRACT.md §5) ----

/** The unpartitioned standalone run: raw/orders (a check's own input), standalone/order_count and its downstream. */
const ORDER_COUNT_RUN = ["raw/orders", ORDER_COUNT, ORDER_COUNT_DOWNSTREAM];
/** The daily one, on a day no other case uses: web/events (the check's input) and standalone/daily. */
const DAILY_RUN = ["web/events", STANDALONE_DAILY];

const orderCountRun = (ctx: CaseContext) => sharedRun(ctx, "order_count", () => ctx.harness.materialize({ assets: ORDER_COUNT_RUN }));
const dailyRun = (ctx: CaseContext) => sharedRun(ctx, "daily", () => ctx.harness.materialize({ assets: DAILY_RUN, partitionKey: STANDALONE_PARTITION }));

/** The verdicts the orchestrator recorded for these checks' targets, as `asset:check:passed@key`, sorted. */
function verdicts(run: HarnessRun, assets: readonly string[]): string[] {
  return run.checks
    .filter((c) => assets.includes(c.asset))
    .map((c) => `${c.asset}:${c.check}:${c.passed}@${c.partitionKey ?? "-"}`)
    .sort();
}
function expectedVerdicts(checks: readonly ExpectedCheck[], partitionKey: string | null): string[] {
  return checks.map((c) => `${c.asset}:${c.check}:${c.passed}@${partitionKey ?? "-"}`).sort();
}

/** `runChecks`, which a runtime declaring standaloneChecks must have. */
function runChecks(ctx: CaseContext, request: CheckRequest): Promise<HarnessRun> {
  if (ctx.harness.runChecks === undefined) throw new Error(`the ${ctx.harness.name} harness declares standaloneChecks but has no runChecks(request)`);
  // Only the two fields of the contract, whatever else the caller's objects carry.
  return ctx.harness.runChecks({ ...request, checks: request.checks.map(({ asset, check }) => ({ asset, check })) });
}

/** The stored records (content hash, file, commit) of these outputs, to show that running checks rewrote none. */
async function storedRecords(ctx: CaseContext, outputs: readonly (readonly [string, string | undefined])[]): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const [asset, key] of outputs) {
    const record = await ctx.store.readRecord(asset.split("/"), key);
    expect(record, `no stored output for ${expectedKey(asset, key)}`).toBeDefined();
    out[expectedKey(asset, key)] = record;
  }
  return out;
}

/** The run failed because the check could not read its input, and the orchestrator's records say which. */
function expectMissingInput(run: HarnessRun, what: string): void {
  const { asset, check, inputs } = STANDALONE_CHECKS.daysEvents;
  expect(run.status, `${what}: the run succeeded though ${check} had no stored ${inputs[0]}`).toBe("failure");
  expect(
    run.checks.filter((c) => c.asset === asset && c.check === check && c.passed),
    `${what}: ${check} is recorded as passed without its input`,
  ).toEqual([]);
  // One message (CHECKS-CONTRACT.md §3: MISSING_OUTPUT naming the check, the input asset and the key), as recorded.
  const said = run.recordsText.split("\n").filter((l) => l.includes(check) && l.includes(inputs[0]!));
  expect(said.length, `${what}: no line of the orchestrator's records names both ${check} and its missing input ${inputs[0]}`).toBeGreaterThan(0);
  expect(said.join("\n"), `${what}: the failure does not name the key`).toContain(STANDALONE_MISSING_PARTITION);
}

const RESTRICTED_KEYS = [".", "..", "__unpartitioned__", "eu\nus", "../eu", "eu/../us"];

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
  // ---- Conformance v2 (issue 10): the orchestrator's own records tell what happened. ----
  {
    name: "an error-severity check failure records the check and the written output, skips downstream and fails the run",
    capability: "truth",
    async run(ctx) {
      const run = await ctx.harness.materialize({ assets: ["truth/strict", "truth/strict_child"] });
      expect(run.status).toBe("failure");
      expect(run.assets["truth/strict"]?.status).toBe("failure");
      expect(run.assets["truth/strict"]?.error ?? "").toContain("strict_is_empty");
      expect(run.checks.filter((c) => c.asset === "truth/strict").map((c) => [c.check, c.passed])).toEqual([["strict_is_empty", false]]);
      expect(recordedKeys(run, "truth/strict"), "the written output of truth/strict has no materialization").toEqual([null]);
      expect(run.assets["truth/strict_child"]?.status).toBe("skipped");
      expect(recordedKeys(run, "truth/strict_child")).toEqual([]);
      await expectOutput(ctx, "truth/strict");
      expect(await ctx.store.readRecord(["truth", "strict_child"], undefined)).toBeUndefined();
    },
  },
  {
    name: "a partially failed step records its succeeded sibling and fails with the failed asset's message",
    capability: "truth",
    async run(ctx) {
      const run = await ctx.harness.materialize({ assets: ["truth/sibling_ok", "truth/sibling_fail"] });
      expect(run.status).toBe("failure");
      expect({ status: run.assets["truth/sibling_ok"]?.status, error: run.assets["truth/sibling_ok"]?.error ?? null }).toEqual({ status: "success", error: null });
      expect(recordedKeys(run, "truth/sibling_ok"), "the succeeded sibling has no materialization").toEqual([null]);
      expect(expectFailedWithout(run, "truth/sibling_fail")).toContain("sibling_fail: failing on purpose beside sibling_ok");
      await expectOutput(ctx, "truth/sibling_ok");
      expect(await ctx.store.readRecord(["truth", "sibling_fail"], undefined)).toBeUndefined();
    },
  },
  ...["truth/never_settles", "truth/exits_early"].map(
    (asset): ConformanceCase => ({
      name: `a step that ends early (${asset}) fails, names the asset and records no materialization`,
      capability: "truth",
      async run(ctx) {
        const run = await ctx.harness.materialize({ assets: [asset] });
        expect(expectFailedWithout(run, asset)).toContain(asset);
        expect(await ctx.store.readRecord(asset.split("/"), undefined)).toBeUndefined();
      },
    }),
  ),
  {
    name: "a cancelled run is not a success, its Node step is gone and nothing is committed after cancellation",
    capability: "cancellation",
    async run(ctx) {
      const marker = startedMarker(ctx.environment, "truth/sleeper");
      const release = controlFile(ctx.environment.env.FIXTURE_CONTROL_DIR!, "truth/sleeper", "release");
      rmSync(marker, { force: true });
      rmSync(release, { force: true });
      const run = await ctx.harness.materialize({ assets: ["truth/sleeper"], cancelAfterStart: "truth/sleeper" });
      expect(existsSync(marker), "truth/sleeper never started: the run was not cancelled while it ran").toBe(true);
      expect(run.status).toBe("failure");
      expect(run.assets["truth/sleeper"]?.status ?? "failure").not.toBe("success");
      expect(recordedKeys(run, "truth/sleeper")).toEqual([]);
      const pid = Number(readFileSync(marker, "utf8").trim());
      await waitFor(() => !processAlive(pid), { what: `the cancelled step's Node process (pid ${pid}) to exit` });
      // Release the sleeper: an orphaned or retried step would now return and commit its output.
      writeFileSync(release, "");
      const watchUntil = Date.now() + 3_000;
      while (Date.now() < watchUntil) {
        expect(await ctx.store.readRecord(["truth", "sleeper"], undefined), "truth/sleeper was committed after its run was cancelled").toBeUndefined();
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(readFileSync(marker, "utf8").trim(), "truth/sleeper started again after the cancellation (a retry?)").toBe(String(pid));
      rmSync(release, { force: true });
    },
  },
  {
    name: "hostile partition keys are refused before anything runs and nothing is written in the store",
    capability: "hostileKeys",
    async run(ctx) {
      const up = await ctx.harness.materialize({ assets: ["raw/orders", "raw/customers"] });
      expectSucceeded(up, ["raw/orders", "raw/customers"]);
      const before = await ctx.store.listFiles();
      for (const key of RESTRICTED_KEYS) {
        const run = await ctx.harness.materialize({ assets: ["regional_sales"], partitionKey: key });
        expect({ key, status: run.status }).toEqual({ key, status: "failure" });
        expect({ key, status: run.assets.regional_sales?.status ?? "failure" }).not.toEqual({ key, status: "success" });
        expect({ key, materializations: run.materializations }).toEqual({ key, materializations: [] });
      }
      expect(await ctx.store.listFiles(), "a hostile partition key wrote into the store").toEqual(before);
      await expectOutput(ctx, "raw/orders");
      await expectOutput(ctx, "raw/customers");
    },
  },
  {
    name: "a canary secret printed by compute (console.log, console.error, stdout.write) appears in no record, log or file",
    capability: "secrets",
    async run(ctx) {
      const run = await ctx.harness.materialize({ assets: ["secrets/prints"] });
      expectSucceeded(run, ["secrets/prints"]);
      await expectOutput(ctx, "secrets/prints");
      // The prints were kept (redacted): a harness that records nothing proves nothing.
      expect(run.recordsText, "the orchestrator kept no trace of the asset's prints").toContain("secrets/prints console.log token=");
      expect(run.recordsText, "the orchestrator kept no trace of the asset's stderr").toContain("secrets/prints console.error token=");
      await expectNoCanary(ctx, { "the run's records": run.recordsText, "an asset error": JSON.stringify(run.assets) });
    },
  },
  {
    name: "a canary secret thrown by a resource's teardown appears nowhere and the committed output stays recorded",
    capability: "secrets",
    async run(ctx) {
      const run = await ctx.harness.materialize({ assets: ["secrets/teardown_throws"] });
      expect(run.status).toBe("failure");
      expect(run.assets["secrets/teardown_throws"]?.status).toBe("failure");
      expect(run.assets["secrets/teardown_throws"]?.error ?? "").toContain("leaky: closing the session failed");
      expect(recordedKeys(run, "secrets/teardown_throws"), "the output committed before the teardown failed has no materialization").toEqual([null]);
      await expectOutput(ctx, "secrets/teardown_throws");
      await expectNoCanary(ctx, { "the run's records": run.recordsText, "an asset error": JSON.stringify(run.assets) });
    },
  },
  {
    name: "a canary secret in a check's metadata and description appears nowhere",
    capability: "secrets",
    async run(ctx) {
      const run = await ctx.harness.materialize({ assets: ["secrets/check_metadata"] });
      expectSucceeded(run, ["secrets/check_metadata"]);
      expect(run.checks.map((c) => `${c.asset}:${c.check}:${c.passed}`)).toEqual(["secrets/check_metadata:token_in_metadata:false"]);
      await expectOutput(ctx, "secrets/check_metadata");
      await expectNoCanary(ctx, { "the run's records": run.recordsText });
    },
  },
  {
    name: "a canary secret in a sensor's skip reason appears nowhere",
    capability: "secrets",
    async run(ctx) {
      const tick = await ctx.harness.sensorTick("secret_sensor", null);
      expect(tick.runRequests).toEqual([]);
      expect(tick.skipReason ?? "").toContain("secret_sensor: the endpoint refused token");
      await expectNoCanary(ctx, { "the skip reason": tick.skipReason ?? "", "the cursor": tick.cursor ?? "", "the tick's records": tick.recordsText });
    },
  },
  {
    name: "autumn DST: both 01:00 hours of 2024-11-03 in New York are distinct partitions",
    capability: "dst",
    async run(ctx) {
      const hours = [
        { key: "2024-11-03-01:00", start: "2024-11-03T05:00:00.000Z", end: "2024-11-03T06:00:00.000Z" },
        { key: "2024-11-03-01:00-0500", start: "2024-11-03T06:00:00.000Z", end: "2024-11-03T07:00:00.000Z" },
      ];
      const hashes: (string | null)[] = [];
      for (const h of hours) {
        const run = await ctx.harness.materialize({ assets: ["dst/hourly"], partitionKey: h.key });
        expectSucceeded(run, ["dst/hourly"]);
        expect(recordedKeys(run, "dst/hourly")).toEqual([h.key]);
        const { frame, record } = await ctx.store.read(["dst", "hourly"], h.key);
        expect(frame.toRecords()).toEqual([{ partition_key: h.key, window_start: h.start, window_end: h.end }]);
        hashes.push(record.contentHash);
      }
      expect(new Set(hashes).size, "the two 01:00 hours share one stored output").toBe(2);
    },
  },
  {
    name: "autumn DST: the 25-hour day 2024-11-03 reads 25 hourly partitions",
    capability: "dst",
    async run(ctx) {
      const hourly = await ctx.harness.materialize({ assets: ["dst/hourly"], partitionRange: { start: "2024-11-03-00:00", end: "2024-11-03-23:00" } });
      expectSucceeded(hourly, ["dst/hourly"]);
      const keys = recordedKeys(hourly, "dst/hourly");
      expect(keys.length, `hourly keys of 2024-11-03: ${keys.join(", ")}`).toBe(25);
      expect(keys).toContain("2024-11-03-01:00-0500");
      const run = await ctx.harness.materialize({ assets: ["dst/daily"], partitionKey: "2024-11-03" });
      expectSucceeded(run, ["dst/daily"]);
      expect(recordedKeys(run, "dst/daily")).toEqual(["2024-11-03"]);
      const { frame, record } = await ctx.store.read(["dst", "daily"], "2024-11-03");
      expect(record.rowCount).toBe(25);
      const starts = frame.getColumn("window_start").toArray() as string[];
      expect(new Set(starts).size).toBe(25);
      expect([starts[0], (frame.getColumn("window_end").toArray() as string[]).at(-1)]).toEqual(["2024-11-03T04:00:00.000Z", "2024-11-04T05:00:00.000Z"]);
    },
  },
  {
    name: "a schedule tick after its partitions end skips with a reason",
    capability: "scheduleEnd",
    async run(ctx) {
      // 03:30 New York on Nov 5 (EST): 2024-11-04 is complete and is the last partition (the end is exclusive).
      const last = await ctx.harness.scheduleTick("ended_schedule", new Date("2024-11-05T08:30:00Z"));
      expect(last.skipReason).toBeNull();
      expect(last.runRequests.map((r) => ({ assets: [...r.assets], partitionKey: r.partitionKey }))).toEqual([{ assets: ["dst/daily"], partitionKey: "2024-11-04" }]);
      for (const at of ["2024-11-06T08:30:00Z", "2025-01-15T08:30:00Z"]) {
        const after = await ctx.harness.scheduleTick("ended_schedule", new Date(at));
        expect({ at, runRequests: after.runRequests }).toEqual({ at, runRequests: [] });
        expect(after.skipReason ?? "", `the tick at ${at} ran nothing and gave no reason`).not.toBe("");
      }
    },
  },
  {
    name: "a deterministic failure is not retried; a transient one follows the retry policy",
    capability: "retryClasses",
    async run(ctx) {
      const missing = await ctx.harness.materialize({ assets: ["truth/needs_missing_env"] });
      expect(expectFailedWithout(missing, "truth/needs_missing_env")).toContain("FIXTURE_NEVER_SET");
      expect(missing.assets["truth/needs_missing_env"]?.attempts, "a missing variable was retried").toBe(1);
      const flaky = await ctx.harness.materialize({ assets: ["flaky"] });
      expectSucceeded(flaky, ["flaky"]);
      expect(flaky.assets.flaky?.attempts, "a thrown error was not retried").toBe(2);
    },
  },
  // ---- Portable contracts (issue 12, EXECUTION-CONTRACT.md): timeouts and tick logs. ----
  {
    name: "an asset past its timeoutSeconds fails saying it timed out, writes nothing, and its downstream does not run (a synchronous spin)",
    capability: "timeouts",
    async run(ctx) {
      const run = await ctx.harness.materialize({ assets: ["spins", "after_spins"] });
      expectTimedOut(run, "spins");
      expect(await ctx.store.readRecord(["spins"], undefined), "spins has a stored output").toBeUndefined();
      expect(run.assets.after_spins?.status ?? "skipped", "after_spins ran after spins timed out").not.toBe("success");
      expect(recordedKeys(run, "after_spins"), "after_spins was materialized after spins timed out").toEqual([]);
      expect(await ctx.store.readRecord(["after_spins"], undefined), "after_spins has a stored output").toBeUndefined();
    },
  },
  {
    name: "an asset past its timeoutSeconds fails saying it timed out and writes nothing (a promise that never settles)",
    capability: "timeouts",
    async run(ctx) {
      const run = await ctx.harness.materialize({ assets: ["waits"] });
      expectTimedOut(run, "waits");
      expect(await ctx.store.readRecord(["waits"], undefined), "waits has a stored output").toBeUndefined();
    },
  },
  {
    name: "a sensor's log reaches the tick's record",
    capability: "tickLogs",
    async run(ctx) {
      const dir = ctx.environment.env.FIXTURE_LANDING_DIR!;
      mkdirSync(dir, { recursive: true });
      const files = ["2024-02-01", "2024-02-02"].map((day) => join(dir, `events-${day}.ready`));
      for (const f of files) writeFileSync(f, "");
      try {
        // Two new files after 2024-01-31 (the sensors case may have left January's files: they are not new).
        const tick = await ctx.harness.sensorTick("new_event_files", "2024-01-31");
        expect(tick.runRequests.map((r) => r.partitionKey)).toEqual(["2024-02-01", "2024-02-02"]);
        expect(tick.recordsText, "the sensor's log.info line is not in the tick's record").toContain("baton-sensor-log: 2 new file(s)");
        // A skipped tick logs too.
        const skipped = await ctx.harness.sensorTick("new_event_files", "2024-02-02");
        expect(skipped.runRequests).toEqual([]);
        expect(skipped.recordsText, "the skipped tick's log line is not in its record").toContain("baton-sensor-log: 0 new file(s)");
      } finally {
        for (const f of files) rmSync(f, { force: true });
      }
    },
  },
  // ---- Standalone checks and recorded metadata (issue 14, CHECKS-CONTRACT.md §5). ----
  {
    name: "standalone checks run after their target and inputs, each verdict is recorded, a failed error check fails the run and blocks no asset",
    capability: "standaloneChecks",
    async run(ctx) {
      const { oneRow, matchesOrders, failsOnPurpose, daysEvents, moreThanOneRow } = STANDALONE_CHECKS;
      const run = await orderCountRun(ctx);
      // Every asset succeeded and was materialized, the downstream of the failed check's target included.
      for (const id of ORDER_COUNT_RUN) {
        expect({ id, status: run.assets[id]?.status, error: run.assets[id]?.error ?? null }).toEqual({ id, status: "success", error: null });
        expect({ id, materializations: recordedKeys(run, id) }).toEqual({ id, materializations: [null] });
      }
      expect(verdicts(run, [ORDER_COUNT])).toEqual(expectedVerdicts([oneRow, matchesOrders, failsOnPurpose], null));
      expect(run.status, `the run succeeded though the error-severity check ${failsOnPurpose.check} failed`).toBe("failure");
      // The failed warn check leaves the run a success. web/events of this day is written by this run alone, so
      // has_its_days_events passing shows it ran after its input's step, not only after its target's.
      const daily = await dailyRun(ctx);
      expectSucceeded(daily, DAILY_RUN);
      expect(recordedKeys(daily, STANDALONE_DAILY)).toEqual([STANDALONE_PARTITION]);
      expect(verdicts(daily, [STANDALONE_DAILY])).toEqual(expectedVerdicts([daysEvents, moreThanOneRow], STANDALONE_PARTITION));
    },
  },
  {
    name: "checks run alone against stored outputs: verdicts recorded, nothing materialized or rewritten, failed iff an error check failed",
    capability: "standaloneChecks",
    async run(ctx) {
      const { oneRow, matchesOrders, failsOnPurpose, daysEvents, moreThanOneRow } = STANDALONE_CHECKS;
      // The outputs the checks read: stored by the runs of the case above (made here when it did not run).
      for (const run of [await orderCountRun(ctx), await dailyRun(ctx)]) expect(run.materializations.length).toBeGreaterThan(0);
      const outputs = [
        ["raw/orders", undefined],
        [ORDER_COUNT, undefined],
        ["web/events", STANDALONE_PARTITION],
        [STANDALONE_DAILY, STANDALONE_PARTITION],
      ] as const;
      const before = await storedRecords(ctx, outputs);
      // An inline check and two standalone ones: the error one fails, so the check run fails.
      const unkeyed = await runChecks(ctx, { checks: [oneRow, matchesOrders, failsOnPurpose] });
      expect(verdicts(unkeyed, [ORDER_COUNT])).toEqual(expectedVerdicts([oneRow, matchesOrders, failsOnPurpose], null));
      expect(unkeyed.materializations, "running checks recorded materializations").toEqual([]);
      expect(unkeyed.status, `the check run succeeded though ${failsOnPurpose.check} (error) failed`).toBe("failure");
      // A partition of a daily asset, a failed warn check: the check run succeeds.
      const keyed = await runChecks(ctx, { checks: [daysEvents, moreThanOneRow], partitionKey: STANDALONE_PARTITION });
      expect(verdicts(keyed, [STANDALONE_DAILY])).toEqual(expectedVerdicts([daysEvents, moreThanOneRow], STANDALONE_PARTITION));
      expect(keyed.materializations, "running checks recorded materializations").toEqual([]);
      expect(keyed.status, `the check run failed though only the warn check ${moreThanOneRow.check} failed`).toBe("success");
      expect(await storedRecords(ctx, outputs), "running checks rewrote a stored output").toEqual(before);
    },
  },
  {
    name: "a standalone check whose input has no stored output fails, naming the input, in a materialization and run alone",
    capability: "standaloneChecks",
    async run(ctx) {
      // standalone/daily alone, on a day web/events was never materialized for: the asset succeeds, its check cannot run.
      const run = await ctx.harness.materialize({ assets: [STANDALONE_DAILY], partitionKey: STANDALONE_MISSING_PARTITION });
      expect({ status: run.assets[STANDALONE_DAILY]?.status, error: run.assets[STANDALONE_DAILY]?.error ?? null }).toEqual({ status: "success", error: null });
      expect(recordedKeys(run, STANDALONE_DAILY)).toEqual([STANDALONE_MISSING_PARTITION]);
      expectMissingInput(run, "the materialization");
      const alone = await runChecks(ctx, { checks: [STANDALONE_CHECKS.daysEvents], partitionKey: STANDALONE_MISSING_PARTITION });
      expect(alone.materializations, "running checks recorded materializations").toEqual([]);
      expectMissingInput(alone, "the check run");
      expect(await ctx.store.readRecord(["web", "events"], STANDALONE_MISSING_PARTITION), "web/events was materialized by a check").toBeUndefined();
    },
  },
  {
    name: "a compute's withMetadata values and an asset's declared metadata are in the orchestrator's record of the materialization",
    capability: "metadata",
    async run(ctx) {
      const run = await orderCountRun(ctx);
      for (const [asset, expected] of Object.entries(EXPECTED_METADATA)) {
        const recorded = run.materializations.filter((m) => m.asset === asset);
        expect(recorded.length, `the orchestrator recorded no materialization of ${asset}`).toBe(1);
        const metadata = recorded[0]!.metadata;
        expect(metadata, `the materialization of ${asset} has no recorded metadata`).toBeDefined();
        // Exactly Baton's JSON values (200 stays a number, the nested value an object); other keys may be there too.
        const shown = Object.fromEntries(Object.keys(expected).map((k) => [k, metadata![k]]));
        expect({ asset, metadata: shown }).toEqual({ asset, metadata: expected });
      }
    },
  },
  // ---- Iceberg table outputs (issue 16, TABLE-OUTPUT-CONTRACT.md §7): iceberg-cases.ts. ----
  ...ICEBERG_CASES,
  // ---- Object storage (issue 17): runs last, so it covers everything the cases above wrote. ----
  {
    name: "an s3 run keeps every output in the bucket and writes nothing into a local folder",
    capability: "materialize",
    storage: "s3",
    async run(ctx) {
      // A runtime that silently fell back to a folder (BATON_STORAGE ignored, or parsed as a path) writes here.
      expect(filesUnder(ctx.environment.storageDir), `files under the local folder ${ctx.environment.storageDir} on an s3 run`).toEqual([]);
      const stray = filesUnder(ctx.environment.workDir).filter((f) => f.split("/").includes("s3:"));
      expect(stray, `files below a folder named "s3:" in the runtime's working folder ${ctx.environment.workDir}`).toEqual([]);
      expect(ctx.store.url, "the suite's store is not the s3 store it configured").toBe(ctx.environment.storage);
      const objects = await ctx.store.listFiles();
      expect(objects, "the cases above committed nothing to the bucket").toContain("raw/orders/__unpartitioned__/record.json");
      expect(objects.some((o) => /\/data-[0-9a-f]{16}[^/]*\.parquet$/.test(o)), "no data object in the bucket").toBe(true);
    },
  },
];
