import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Manifest } from "@baton/core";
import type { SerializedError, StepEvent } from "@baton/core/step";
import { encodeParam, PipesMetadata, type PipesContext, type ReportAssetCheckOptions, type ReportAssetMaterializationOptions } from "./pipes/index.js";
import { CHECKS_EXTRA, CHECKS_ONLY_EXTRA, PipesReporter, RANGE_EXTRA, SUMMARY_ENV_VAR, redactor, requestFromPipes, runDagsterStep, secretValues, toError } from "./step.js";

const manifest = {
  assets: [
    { id: "raw/orders", key: ["raw", "orders"], checks: [] },
    { id: "daily", key: ["daily"], checks: [{ name: "has_rows" }, { name: "positive" }] },
    { id: "orders", key: ["orders"], checks: [{ name: "one_row", standalone: false }, { name: "has_customers", standalone: true }] },
  ],
} as unknown as Manifest;

/** A Pipes context that records what the step sends. */
function fakePipes(data: Partial<{ assetKeys: string[]; isPartitionStep: boolean; partitionKey: string; extras: Record<string, unknown> }> = {}) {
  const sent: { materializations: ReportAssetMaterializationOptions[]; checks: ReportAssetCheckOptions[]; logs: [string, string][]; closed: unknown[] } = {
    materializations: [],
    checks: [],
    logs: [],
    closed: [],
  };
  const pipes = {
    assetKeys: data.assetKeys ?? [],
    isPartitionStep: data.isPartitionStep ?? false,
    get partitionKey() {
      if (data.partitionKey === undefined) throw new Error("no partition key");
      return data.partitionKey;
    },
    extras: data.extras ?? {},
    runId: "run-1",
    retryNumber: 2,
    log: {
      log: (level: string, message: string) => sent.logs.push([level, message]),
      debug: (m: string) => sent.logs.push(["DEBUG", m]),
      error: (m: string) => sent.logs.push(["ERROR", m]),
      warning: (m: string) => sent.logs.push(["WARNING", m]),
    },
    reportAssetMaterialization: (o: ReportAssetMaterializationOptions) => sent.materializations.push(o),
    reportAssetCheck: (o: ReportAssetCheckOptions) => sent.checks.push(o),
    close: (e?: unknown) => sent.closed.push(e),
  } as unknown as PipesContext;
  return { pipes, sent };
}

const materialization = (asset: string, partitionKey: string | null, rows: number, hash: string): StepEvent => ({
  type: "materialization",
  asset,
  partitionKey,
  dataVersion: hash,
  metadata: { rowCount: rows, schema: [{ name: "id", type: "Int64" }], contentHash: hash, durationMs: 12.5, path: `/store/${asset}`, format: "parquet", codeVersion: "1", user: { source: "generator", nested: { a: 1 } } },
});

const SNAPSHOT = "4817311548932601471"; // above 2^53: must reach Dagster as the same digits
/** An output committed to an Iceberg table (TABLE-OUTPUT-CONTRACT.md §6): no path, the table and its snapshot. */
const icebergMaterialization = (partitionKey: string | null, rows: number, hash: string, snapshotId: string, location: string | null = "s3://wh/analytics/daily_events"): StepEvent => {
  const m = materialization("daily", partitionKey, rows, hash) as Extract<StepEvent, { type: "materialization" }>;
  const table = { format: "iceberg", catalog: "lake", name: "analytics.daily_events", snapshotId, location } as const;
  return { ...m, metadata: { ...m.metadata, path: null, format: "iceberg", table } };
};

describe("requestFromPipes", () => {
  it("turns Dagster's escaped keys into Baton ids and reads run id, retry and partition", () => {
    const { pipes } = fakePipes({ assetKeys: ["raw/orders", "daily"], isPartitionStep: true, partitionKey: "2024-01-02" });
    expect(requestFromPipes(pipes, manifest)).toEqual({ assets: ["raw/orders", "daily"], partitionKey: "2024-01-02", partitionRange: undefined, runId: "run-1", retryNumber: 2, checksOnly: false, checks: undefined });
  });

  it("runs every check when Dagster selected them all, and only the selected ones otherwise", () => {
    const all = fakePipes({ assetKeys: ["daily"], extras: { [CHECKS_EXTRA]: { daily: ["has_rows", "positive"] } } });
    expect(requestFromPipes(all.pipes, manifest)).toMatchObject({ checksOnly: false, checks: undefined });
    const some = fakePipes({ assetKeys: ["raw/orders", "daily"], extras: { [CHECKS_EXTRA]: { daily: ["positive"] } } });
    expect(requestFromPipes(some.pipes, manifest)).toMatchObject({ checksOnly: false, checks: ["positive"] });
    const none = fakePipes({ assetKeys: ["daily"], extras: { [CHECKS_EXTRA]: {} } });
    expect(requestFromPipes(none.pipes, manifest)).toMatchObject({ checks: [] });
  });

  it("a check-only step (no asset in the Pipes context) runs the checks named in the extras on their assets' stored outputs", () => {
    const { pipes } = fakePipes({ assetKeys: [], isPartitionStep: true, partitionKey: "2024-01-02", extras: { [CHECKS_ONLY_EXTRA]: ["daily"], [CHECKS_EXTRA]: { daily: ["positive"] } } });
    expect(requestFromPipes(pipes, manifest)).toEqual({ assets: ["daily"], partitionKey: "2024-01-02", partitionRange: undefined, runId: "run-1", retryNumber: 2, checksOnly: true, checks: ["positive"] });
  });

  it("a materialization step with every inline check selected runs them all: its standalone checks are not Dagster's to select there", () => {
    const { pipes } = fakePipes({ assetKeys: ["orders"], extras: { [CHECKS_EXTRA]: { orders: ["one_row"] } } });
    expect(requestFromPipes(pipes, manifest)).toMatchObject({ checksOnly: false, checks: undefined });
  });

  it("a standalone check's step names its one check, even when it is its asset's only one", () => {
    const only = { assets: [{ id: "t", key: ["t"], checks: [{ name: "alone", standalone: true }] }] } as unknown as Manifest;
    const { pipes } = fakePipes({ extras: { [CHECKS_ONLY_EXTRA]: ["t"], [CHECKS_EXTRA]: { t: ["alone"] } } });
    expect(requestFromPipes(pipes, only)).toMatchObject({ assets: ["t"], checksOnly: true, checks: ["alone"] });
  });

  it("takes a range from the extras, where range runs carry it", () => {
    const { pipes } = fakePipes({ assetKeys: ["daily"], extras: { [RANGE_EXTRA]: { start: "2024-01-01", end: "2024-01-07" } } });
    expect(requestFromPipes(pipes, manifest)).toMatchObject({ partitionKey: undefined, partitionRange: { start: "2024-01-01", end: "2024-01-07" } });
  });

  it("a range of one key (a backfill's run for one partition) is that partition key", () => {
    const { pipes } = fakePipes({ assetKeys: ["daily"], extras: { [RANGE_EXTRA]: { start: "2024-01-03", end: "2024-01-03" } } });
    expect(requestFromPipes(pipes, manifest)).toMatchObject({ partitionKey: "2024-01-03", partitionRange: undefined });
  });

  it("names a selected key the manifest does not know", () => {
    const { pipes } = fakePipes({ assetKeys: ["other"] });
    expect(() => requestFromPipes(pipes, manifest)).toThrow(/"other", which is not in the Baton manifest/);
  });
});

describe("PipesReporter", () => {
  it("reports a materialization with the content hash as data version and typed metadata", () => {
    const { pipes, sent } = fakePipes();
    new PipesReporter(pipes, manifest, false).onEvent(materialization("raw/orders", null, 200, "abc"));
    expect(sent.materializations).toEqual([
      {
        assetKey: "raw/orders",
        dataVersion: "abc",
        metadata: {
          "dagster/row_count": { type: "int", raw_value: 200 },
          "dagster/column_schema": { type: "table_schema", raw_value: { columns: [{ name: "id", type: "Int64" }] } },
          "baton/content_hash": { type: "text", raw_value: "abc" },
          "baton/duration_ms": PipesMetadata.float(12.5),
          "baton/path": { type: "path", raw_value: "/store/raw/orders" },
          "baton/format": { type: "text", raw_value: "parquet" },
          source: "generator",
          nested: { type: "json", raw_value: { a: 1 } },
        },
      },
    ]);
  });

  it("reports an Iceberg output as Dagster's table integrations do: table name, snapshot id as text, location as a link", () => {
    const { pipes, sent } = fakePipes();
    new PipesReporter(pipes, manifest, false).onEvent(icebergMaterialization("2024-01-02", 2, "h", SNAPSHOT));
    const { metadata } = sent.materializations[0]!;
    expect(metadata).toMatchObject({
      "dagster/row_count": { type: "int", raw_value: 2 },
      "baton/content_hash": { type: "text", raw_value: "h" },
      "baton/format": { type: "text", raw_value: "iceberg" },
      "dagster/table_name": { type: "text", raw_value: "analytics.daily_events" },
      "iceberg/snapshot_id": { type: "text", raw_value: SNAPSHOT },
      "iceberg/location": { type: "url", raw_value: "s3://wh/analytics/daily_events" },
      "baton/catalog": { type: "text", raw_value: "lake" },
    });
    expect(metadata).not.toHaveProperty("baton/path");
    // The id survives the wire as its digits (a JSON number would round it to …2601000).
    expect(JSON.stringify(metadata)).toContain(`"${SNAPSHOT}"`);
  });

  it("leaves out a table location the catalog did not give, and adds nothing of a table to a file output", () => {
    const { pipes, sent } = fakePipes();
    const r = new PipesReporter(pipes, manifest, false);
    r.onEvent(icebergMaterialization(null, 1, "h", "1", null));
    r.onEvent(materialization("raw/orders", null, 1, "h"));
    expect(sent.materializations[0]!.metadata).not.toHaveProperty("iceberg/location");
    expect(Object.keys(sent.materializations[1]!.metadata ?? {}).filter((k) => k.startsWith("iceberg/") || k === "dagster/table_name" || k === "baton/catalog")).toEqual([]);
  });

  it("gives each partition of a range its own snapshot, and the range's one report the table but no snapshot", () => {
    const { pipes, sent } = fakePipes();
    const r = new PipesReporter(pipes, manifest, true);
    r.onEvent(icebergMaterialization("2024-01-01", 3, "h1", "11"));
    r.onEvent(icebergMaterialization("2024-01-02", 4, "h2", SNAPSHOT));
    r.flush();
    const { metadata } = sent.materializations[0]!;
    expect(metadata).toMatchObject({
      "dagster/table_name": { type: "text", raw_value: "analytics.daily_events" },
      "baton/partitions": {
        type: "json",
        raw_value: { "2024-01-01": { rowCount: 3, contentHash: "h1", snapshotId: "11" }, "2024-01-02": { rowCount: 4, contentHash: "h2", snapshotId: SNAPSHOT } },
      },
    });
    expect(metadata).not.toHaveProperty("iceberg/snapshot_id");
  });

  it("reports checks with Dagster severities and logs at their levels", () => {
    const { pipes, sent } = fakePipes();
    const r = new PipesReporter(pipes, manifest, false);
    r.onEvent({ type: "check", asset: "daily", partitionKey: null, check: "has_rows", passed: false, severity: "warn", description: "rows", metadata: {} });
    r.onEvent({ type: "log", level: "warning", message: "careful", asset: "daily" });
    expect(sent.checks).toEqual([{ assetKey: "daily", checkName: "has_rows", passed: false, severity: "WARN", metadata: { description: { type: "text", raw_value: "rows" } } }]);
    expect(sent.logs).toEqual([["WARNING", "daily: careful"]]);
  });

  it("holds a range back and reports one materialization and one check per asset, each partition's row count and hash apart", () => {
    const { pipes, sent } = fakePipes();
    const r = new PipesReporter(pipes, manifest, true);
    r.onEvent(materialization("daily", "2024-01-01", 3, "h1"));
    r.onEvent({ type: "check", asset: "daily", partitionKey: "2024-01-01", check: "c", passed: true, severity: "error", description: null, metadata: {} });
    r.onEvent(materialization("daily", "2024-01-02", 4, "h2"));
    r.onEvent({ type: "check", asset: "daily", partitionKey: "2024-01-02", check: "c", passed: false, severity: "error", description: null, metadata: {} });
    expect(sent.materializations).toEqual([]);
    r.flush();
    expect(sent.materializations).toHaveLength(1);
    expect(sent.materializations[0]).toMatchObject({
      assetKey: "daily",
      dataVersion: null,
      metadata: { "baton/partitions": { type: "json", raw_value: { "2024-01-01": { rowCount: 3, contentHash: "h1" }, "2024-01-02": { rowCount: 4, contentHash: "h2" } } } },
    });
    // No summed row count: Dagster would record it on every partition of the range.
    expect(sent.materializations[0]!.metadata).not.toHaveProperty("dagster/row_count");
    expect(sent.checks).toMatchObject([{ assetKey: "daily", checkName: "c", passed: false, metadata: { "baton/failed_partitions": { type: "json", raw_value: ["2024-01-02"] } } }]);
  });

  it("collects failures and skipped assets for the Python side", () => {
    const { pipes } = fakePipes();
    const r = new PipesReporter(pipes, manifest, false);
    r.onEvent({ type: "asset_failure", asset: "raw/orders", partitionKey: null, error: { name: "TypeError", message: "boom", stack: "TypeError: boom\n    at x" } as SerializedError });
    r.onEvent({ type: "asset_skipped", asset: "daily", reason: 'upstream "raw/orders" did not succeed' });
    expect(r.summary).toEqual({ failures: [{ asset: "raw/orders", partitionKey: null, error: { name: "TypeError", message: "boom", stack: "TypeError: boom\n    at x" } }], skipped: { daily: 'upstream "raw/orders" did not succeed' }, materialized: [], finished: false, retryable: true });
  });

  it("redacts every secret in what it sends to Dagster, also in check metadata", () => {
    const { pipes, sent } = fakePipes();
    const r = new PipesReporter(pipes, manifest, false, redactor(["s3cr3t-token"]));
    r.onEvent({ type: "check", asset: "daily", partitionKey: null, check: "c", passed: false, severity: "warn", description: "saw s3cr3t-token", metadata: { token: "s3cr3t-token", nested: { again: "bearer s3cr3t-token" } } });
    r.onEvent({ type: "log", level: "info", message: "token=s3cr3t-token", asset: null });
    expect(JSON.stringify(sent)).not.toContain("s3cr3t-token");
    expect(sent.checks[0]!.metadata).toEqual({ description: { type: "text", raw_value: "saw ***" }, token: "***", nested: { type: "json", raw_value: { again: "bearer ***" } } });
  });

  it("counts the IO store's S3 credentials among the secrets, beside the resources' secret fields", () => {
    const withApi = { ...manifest, resources: [{ key: "api", config: [{ env: "API_TOKEN", secret: true }, { env: "API_URL", secret: false }] }] } as unknown as Manifest;
    const env = { API_TOKEN: "tok-123", API_URL: "https://api.test", AWS_SECRET_ACCESS_KEY: "wJalrXUtnFEMI-secret", AWS_SESSION_TOKEN: "session-token-value", AWS_ACCESS_KEY_ID: "AKIAEXAMPLEKEYID", AWS_REGION: "us-east-1" };
    expect(secretValues(withApi, env).sort()).toEqual(["AKIAEXAMPLEKEYID", "session-token-value", "tok-123", "wJalrXUtnFEMI-secret"]);
  });

  it("records a failure of the step itself (a teardown) at step_end, and whether a retry may help", () => {
    const { pipes } = fakePipes();
    const ended: unknown[] = [];
    const r = new PipesReporter(pipes, manifest, false, undefined, (s) => ended.push(structuredClone(s)));
    r.onEvent(materialization("daily", null, 1, "h"));
    const error = { name: "Error", message: "teardown failed", stack: undefined, retryable: false } as SerializedError;
    r.onEvent({ type: "step_end", status: "failure", retryable: false, durationMs: 1, error } as StepEvent);
    expect(ended).toEqual([{ failures: [{ asset: "", partitionKey: null, error }], skipped: {}, materialized: ["daily"], finished: true, retryable: false }]);
  });
});

describe("toError", () => {
  it("rebuilds the TypeScript error with its name, stack and cause", () => {
    const e = toError({ name: "TypeError", message: "outer", stack: "TypeError: outer\n    at a", cause: { name: "Error", message: "inner", stack: undefined } as SerializedError } as SerializedError);
    expect([e.name, e.message, e.stack, (e.cause as Error).message]).toEqual(["TypeError", "outer", "TypeError: outer\n    at a", "inner"]);
  });
});

describe("runDagsterStep and the build's module hash", () => {
  it("refuses a definitions module that changed since the build: exit 3, the MANIFEST error closes Pipes and is in the summary", async () => {
    const dir = mkdtempSync(join(tmpdir(), "baton-dagster-hash-"));
    writeFileSync(join(dir, "definitions-0000000000000000.mjs"), "export default {};\n");
    const built = { manifestVersion: 2, runtime: { module: "definitions-0000000000000000.mjs", moduleHash: `sha256:${"0".repeat(64)}`, export: "default", stepEntry: "x.js", node: ">=20" }, assets: [], resources: [], schedules: [], sensors: [] };
    writeFileSync(join(dir, "manifest.json"), JSON.stringify(built));
    const summary = join(dir, "summary.json");
    const { pipes, sent } = fakePipes({ assetKeys: [] });
    const code = await runDagsterStep({ manifestPath: join(dir, "manifest.json"), pipes, env: { [SUMMARY_ENV_VAR]: summary } });
    expect(code).toBe(3);
    const closed = sent.closed[0] as Error;
    expect(closed.message).toMatch(/the definitions module changed since the build/);
    expect(closed.message).toContain(join(dir, "definitions-0000000000000000.mjs"));
    expect(JSON.parse(readFileSync(summary, "utf8"))).toMatchObject({ retryable: false, failures: [{ asset: "", error: { name: "BatonError", code: "MANIFEST" } }] });
  });
});

describe("runDagsterStep in a long-lived process (a warm worker)", () => {
  it("opens each step's own Pipes context from that step's environment, never the first step's", async () => {
    const dir = mkdtempSync(join(tmpdir(), "baton-dagster-warm-"));
    writeFileSync(join(dir, "definitions-0000000000000000.mjs"), "export default {};\n");
    const built = { manifestVersion: 2, runtime: { module: "definitions-0000000000000000.mjs", moduleHash: `sha256:${"0".repeat(64)}`, export: "default", stepEntry: "x.js", node: ">=20" }, assets: [], resources: [], schedules: [], sensors: [] };
    writeFileSync(join(dir, "manifest.json"), JSON.stringify(built));
    const step = async (run: string) => {
      const messages = join(dir, `${run}.messages`);
      const context = { run_id: run, retry_number: 0, extras: {}, asset_keys: [] };
      const env = { DAGSTER_PIPES_CONTEXT: encodeParam({ data: context }), DAGSTER_PIPES_MESSAGES: encodeParam({ path: messages }), [SUMMARY_ENV_VAR]: join(dir, `${run}.summary`) };
      // The module check fails (exit 3) after the context opened: its `closed` carries the error.
      expect(await runDagsterStep({ manifestPath: join(dir, "manifest.json"), env })).toBe(3);
      return readFileSync(messages, "utf8").trim().split("\n").map((l) => (JSON.parse(l) as { method: string }).method);
    };
    expect(await step("run-a")).toEqual(["opened", "closed"]);
    expect(await step("run-b")).toEqual(["opened", "closed"]);
    // The first step's channel got nothing from the second.
    expect(readFileSync(join(dir, "run-a.messages"), "utf8").trim().split("\n")).toHaveLength(2);
  });
});
