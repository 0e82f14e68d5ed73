import { readFileSync } from "node:fs";
import type { CheckSeverity, MetadataValue } from "@baton/core/authoring";
import type { DbtRunResult, DbtRunResults } from "./artifacts.js";
import { DbtError, DbtNodeFailure } from "./errors.js";
import type { DbtAssetResourceType, DbtAssetSpec, DbtCheckSpec } from "./specs.js";

export interface DbtTimingOutcome {
  /** ISO instants of dbt's compile start and execute end (absent when the node was skipped). */
  readonly startedAt: string | undefined;
  readonly completedAt: string | undefined;
  /** dbt's execution_time, seconds. */
  readonly seconds: number;
}

/** One model, seed or snapshot of a build. */
export interface DbtMaterializationOutcome {
  readonly key: readonly string[];
  readonly id: string;
  readonly uniqueId: string;
  readonly resourceType: DbtAssetResourceType;
  /** `success`: built (a materialization); `error`: failed; `skipped`: not run since something it needs failed. */
  readonly status: "success" | "error" | "skipped";
  readonly message: string | undefined;
  readonly timing: DbtTimingOutcome;
  /** rows affected, relation, external file, dbt's timing: for the materialization's record. */
  readonly metadata: Readonly<Record<string, MetadataValue>>;
  readonly file: string;
}

/** One dbt test of a build, as a check of the asset it is attached to. */
export interface DbtCheckOutcome {
  readonly assetKey: readonly string[];
  readonly assetId: string;
  readonly name: string;
  readonly uniqueId: string;
  /** dbt's verdict: pass, warn (failed at warn level), fail (failed at error level), error (did not run), skipped. */
  readonly status: "pass" | "warn" | "fail" | "error" | "skipped";
  readonly passed: boolean;
  /** The severity the verdict has: `warn` for a warn verdict, else the test's configured severity. */
  readonly severity: CheckSeverity;
  /** Rows the test returned (dbt's `failures`). */
  readonly failures: number | null;
  readonly message: string | undefined;
  readonly timing: DbtTimingOutcome;
  readonly file: string;
}

export interface DbtRunResultsMapping {
  readonly materializations: readonly DbtMaterializationOutcome[];
  readonly checks: readonly DbtCheckOutcome[];
  /** Each failed node and each failed error-severity test, naming the asset and file. */
  readonly errors: readonly (DbtError | DbtNodeFailure)[];
  /** Nodes of the run that are neither a spec nor a check of one (a test attached to nothing). */
  readonly other: readonly DbtRunResult[];
  readonly dbtVersion: string;
  readonly invocationId: string | undefined;
  readonly elapsedSeconds: number;
}

export function readRunResults(path: string): DbtRunResults {
  let parsed: DbtRunResults;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8")) as DbtRunResults;
  } catch (e) {
    throw new DbtError("DBT_FAILED", `dbt wrote no readable ${path}: ${(e as Error).message}`, { file: path });
  }
  if (!Array.isArray(parsed?.results)) throw new DbtError("DBT_FAILED", `${path} has no results list`, { file: path });
  return parsed;
}

function timingOf(r: DbtRunResult): DbtTimingOutcome {
  const starts = r.timing.map((t) => t.started_at).filter((t): t is string => !!t).sort();
  const ends = r.timing.map((t) => t.completed_at).filter((t): t is string => !!t).sort();
  return { startedAt: starts[0], completedAt: ends.at(-1), seconds: r.execution_time };
}

function message(r: DbtRunResult): string | undefined {
  return r.message === null || r.message === "" ? undefined : r.message;
}

function adapterMetadata(r: DbtRunResult): Record<string, MetadataValue> {
  const out: Record<string, MetadataValue> = {};
  const response = r.adapter_response ?? {};
  if (typeof response.rows_affected === "number") out["dbt/rows_affected"] = response.rows_affected;
  if (typeof response._message === "string") out["dbt/adapter_message"] = response._message;
  return out;
}

/**
 * Map a build's run_results.json onto the specs it selected: each asset node a materialization
 * outcome, each test a check outcome on its attached asset, and each failure a clear error.
 */
export function mapRunResults(results: DbtRunResults, specs: readonly DbtAssetSpec[]): DbtRunResultsMapping {
  const assets = new Map(specs.map((s) => [s.uniqueId, s]));
  const tests = new Map<string, { spec: DbtAssetSpec; check: DbtCheckSpec }>();
  for (const spec of specs) for (const check of spec.checks) tests.set(check.uniqueId, { spec, check });
  const materializations: DbtMaterializationOutcome[] = [];
  const checks: DbtCheckOutcome[] = [];
  const errors: (DbtError | DbtNodeFailure)[] = [];
  const other: DbtRunResult[] = [];
  for (const r of results.results) {
    const asset = assets.get(r.unique_id);
    if (asset !== undefined) {
      const status = r.status === "success" ? "success" : r.status === "skipped" ? "skipped" : "error";
      const timing = timingOf(r);
      const metadata: Record<string, MetadataValue> = {
        ...adapterMetadata(r),
        "dbt/unique_id": r.unique_id,
        "dbt/relation_name": r.relation_name ?? asset.relationName,
        "dbt/execution_time": r.execution_time,
      };
      if (asset.externalLocation !== undefined) metadata["dbt/external_location"] = asset.externalLocation;
      materializations.push({ key: asset.key, id: asset.id, uniqueId: r.unique_id, resourceType: asset.resourceType, status, message: message(r), timing, metadata, file: asset.file });
      if (status === "error") {
        const text = `dbt ${asset.resourceType} ${r.unique_id} (${asset.file}) failed: ${message(r) ?? r.status}`;
        // A compilation error (Jinja, a missing ref) fails again on retry; a database error may not.
        errors.push(
          /^Compilation Error/.test(message(r) ?? "")
            ? new DbtError("COMPILATION", text, { asset: asset.id, file: asset.file, hint: "fix the model (dbt's message above), then build again" })
            : new DbtNodeFailure(text, asset.id, asset.file),
        );
      }
      continue;
    }
    const test = tests.get(r.unique_id);
    if (test !== undefined) {
      const known = ["pass", "warn", "fail", "error", "skipped"] as const;
      const status = (known as readonly string[]).includes(r.status) ? (r.status as DbtCheckOutcome["status"]) : "error";
      const severity: CheckSeverity = status === "warn" ? "warn" : test.check.severity;
      checks.push({
        assetKey: test.spec.key,
        assetId: test.spec.id,
        name: test.check.name,
        uniqueId: r.unique_id,
        status,
        passed: status === "pass",
        severity,
        failures: r.failures,
        message: message(r),
        timing: timingOf(r),
        file: test.check.file,
      });
      const where = `the dbt test ${test.check.name} (${test.check.file}) on asset "${test.spec.id}" (${test.spec.file})`;
      if (status === "fail") {
        errors.push(
          // The error's own prefix names the asset and its file.
          new DbtError("TEST_FAILED", `the dbt test ${test.check.name} (${test.check.file}) failed at severity error: ${message(r) ?? "failed"}`, {
            asset: test.spec.id,
            file: test.spec.file,
            hint: `fix the data or the model, or set the test's config severity: warn to report it only`,
          }),
        );
      } else if (status === "error") {
        errors.push(new DbtNodeFailure(`${where} could not run: ${message(r) ?? "error"}`, test.spec.id, test.check.file));
      }
      continue;
    }
    other.push(r);
  }
  return {
    materializations,
    checks,
    errors,
    other,
    dbtVersion: results.metadata.dbt_version,
    invocationId: results.metadata.invocation_id,
    elapsedSeconds: results.elapsed_time,
  };
}
