import { describe, expect, it } from "vitest";
import type { DbtManifest, DbtManifestNode, DbtRunResult, DbtRunResults } from "./artifacts.js";
import { DbtError, DbtNodeFailure } from "./errors.js";
import { mapRunResults } from "./run-results.js";
import { manifestToSpecs } from "./specs.js";

// The mapping alone, on artifacts shaped as dbt 1.11 writes them (build.test.ts runs real dbt).
const node = (id: string, extra: Partial<DbtManifestNode>): DbtManifestNode => ({
  unique_id: id,
  resource_type: id.split(".")[0]!,
  name: id.split(".")[2]!,
  package_name: "p",
  original_file_path: `models/${id.split(".")[2]}.sql`,
  fqn: ["p", id.split(".")[2]!],
  config: {},
  ...extra,
});
const manifest: DbtManifest = {
  metadata: { dbt_schema_version: "https://schemas.getdbt.com/dbt/manifest/v12.json", dbt_version: "1.11.16", adapter_type: "duckdb" },
  nodes: {
    "model.p.a": node("model.p.a", { config: { materialized: "table" }, relation_name: '"db"."main"."a"' }),
    "model.p.b": node("model.p.b", { depends_on: { nodes: ["model.p.a"] } }),
    "test.p.a_ok": node("test.p.a_ok", { attached_node: "model.p.a", depends_on: { nodes: ["model.p.a"] }, config: { severity: "ERROR" }, test_metadata: { name: "not_null" }, original_file_path: "models/schema.yml" }),
    "test.p.a_broken": node("test.p.a_broken", { attached_node: "model.p.a", depends_on: { nodes: ["model.p.a"] }, config: { severity: "warn" }, test_metadata: { name: "unique" }, original_file_path: "models/schema.yml" }),
    "test.p.b_later": node("test.p.b_later", { attached_node: "model.p.b", depends_on: { nodes: ["model.p.b"] }, config: { severity: "ERROR" }, test_metadata: { name: "unique" }, original_file_path: "models/schema.yml" }),
  },
  sources: {},
};
const result = (unique_id: string, status: string, extra: Partial<DbtRunResult> = {}): DbtRunResult => ({
  unique_id,
  status,
  timing: status === "skipped" ? [] : [{ name: "compile", started_at: "2024-01-01T00:00:00.000Z", completed_at: "2024-01-01T00:00:00.100Z" }, { name: "execute", started_at: "2024-01-01T00:00:00.100Z", completed_at: "2024-01-01T00:00:01.000Z" }],
  execution_time: status === "skipped" ? 0 : 1,
  message: null,
  failures: null,
  ...extra,
});

describe("mapRunResults", () => {
  const { specs } = manifestToSpecs(manifest);
  const runResults: DbtRunResults = {
    metadata: { dbt_schema_version: "https://schemas.getdbt.com/dbt/run-results/v6.json", dbt_version: "1.11.16", invocation_id: "inv-1" },
    elapsed_time: 2.5,
    results: [
      result("model.p.a", "success", { adapter_response: { _message: "OK", rows_affected: 3 }, message: "OK" }),
      result("test.p.a_ok", "pass", { failures: 0 }),
      result("test.p.a_broken", "error", { message: "Runtime Error in test a_broken: Catalog Error" }),
      result("model.p.b", "error", { message: "Compilation Error in model b (models/b.sql)\n  'undefined_macro' is undefined" }),
      result("test.p.b_later", "skipped"),
    ],
  };
  const mapped = mapRunResults(runResults, specs);

  it("gives each asset node a materialization outcome with its timing and adapter metadata", () => {
    const a = mapped.materializations.find((m) => m.id === "a")!;
    expect(a).toMatchObject({ status: "success", message: "OK", timing: { startedAt: "2024-01-01T00:00:00.000Z", completedAt: "2024-01-01T00:00:01.000Z", seconds: 1 } });
    expect(a.metadata).toMatchObject({ "dbt/rows_affected": 3, "dbt/adapter_message": "OK", "dbt/relation_name": '"db"."main"."a"' });
    expect(mapped.invocationId).toBe("inv-1");
    expect(mapped.elapsedSeconds).toBe(2.5);
  });

  it("gives each test a check outcome on its asset; a test that could not run is a retryable failure", () => {
    expect(mapped.checks.map((c) => [c.assetId, c.name, c.status, c.passed, c.severity])).toEqual([
      ["a", "a_ok", "pass", true, "error"],
      ["a", "a_broken", "error", false, "warn"],
      ["b", "b_later", "skipped", false, "error"],
    ]);
    const testError = mapped.errors.find((e) => e instanceof DbtNodeFailure)!;
    expect(testError.message).toMatch(/the dbt test a_broken \(models\/schema\.yml\) on asset "a" \(models\/a\.sql\) could not run: Runtime Error/);
  });

  it("a compilation error in a built model is a deterministic COMPILATION error naming the model and file", () => {
    const compile = mapped.errors.find((e): e is DbtError => e instanceof DbtError)!;
    expect(compile.reason).toBe("COMPILATION");
    expect(compile.code).toBe("INVALID_DEFINITION");
    expect(compile.message).toMatch(/^asset "b" \(models\/b\.sql\): dbt model model\.p\.b \(models\/b\.sql\) failed: Compilation Error in model b/);
    expect(mapped.errors).toHaveLength(2);
  });
});
