/**
 * Loading the context payload (`PipesDefaultContextLoader`): the context params are either
 * `{"path": "<file>"}` (JSON file written by `PipesTempFileContextInjector`, the default of
 * `PipesSubprocessClient`), `{"data": {...}}` (inline, `PipesEnvContextInjector`), or
 * `{"bucket": B, "key": K}` (an S3 object, dagster-aws's `PipesS3ContextInjector`; read by
 * {@link PipesS3ContextLoader}, which Python makes the user pass explicitly).
 */
import { readFileSync } from "node:fs";

import { DagsterPipesError } from "./errors.js";
import type { PipesContextData, PipesParams } from "./protocol.js";
import { isS3ContextParams, PipesS3ContextLoader, type PipesS3Options } from "./s3.js";

export interface PipesContextLoader {
  loadContext(params: PipesParams): PipesContextData;
}

function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Fills in the fields the JSON schema lets the orchestrator omit (everything except `run_id`,
 * `retry_number` and `extras` may be absent or null) so accessors can rely on `null`.
 */
export function normalizeContextData(raw: unknown, source: string): PipesContextData {
  if (!isObject(raw)) {
    throw new DagsterPipesError(`Invalid Dagster Pipes context from ${source}: expected a JSON object, got ${typeName(raw)}.`);
  }
  const get = (key: string): unknown => (raw[key] === undefined ? null : raw[key]);
  const extras = get("extras");
  return {
    ...raw,
    asset_keys: get("asset_keys") as PipesContextData["asset_keys"],
    code_version_by_asset_key: get("code_version_by_asset_key") as PipesContextData["code_version_by_asset_key"],
    provenance_by_asset_key: get("provenance_by_asset_key") as PipesContextData["provenance_by_asset_key"],
    partition_key: get("partition_key") as PipesContextData["partition_key"],
    partition_key_range: get("partition_key_range") as PipesContextData["partition_key_range"],
    partition_time_window: get("partition_time_window") as PipesContextData["partition_time_window"],
    run_id: get("run_id") as PipesContextData["run_id"],
    job_name: get("job_name") as PipesContextData["job_name"],
    retry_number: (get("retry_number") ?? 0) as PipesContextData["retry_number"],
    extras: (isObject(extras) ? extras : {}) as PipesContextData["extras"],
  };
}

export class PipesDefaultContextLoader implements PipesContextLoader {
  static readonly FILE_PATH_KEY = "path";
  static readonly DIRECT_KEY = "data";
  private readonly s3: PipesS3Options;

  /** `s3.client`: the client for `{bucket, key}` params (default: the worker-backed SDK client). */
  constructor(options: { s3?: PipesS3Options } = {}) {
    this.s3 = options.s3 ?? {};
  }

  loadContext(params: PipesParams): PipesContextData {
    if (PipesDefaultContextLoader.FILE_PATH_KEY in params) {
      const path = params[PipesDefaultContextLoader.FILE_PATH_KEY];
      if (typeof path !== "string") {
        throw new DagsterPipesError(
          `Invalid type for parameter \`path\` passed from orchestration side to \`PipesDefaultContextLoader\`. Expected a string, got ${typeName(path)}.`,
        );
      }
      let text: string;
      try {
        text = readFileSync(path, "utf8");
      } catch (error) {
        throw new DagsterPipesError(`Could not read the Dagster Pipes context file ${path}.`, { cause: error });
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (error) {
        throw new DagsterPipesError(`The Dagster Pipes context file ${path} is not valid JSON.`, { cause: error });
      }
      return normalizeContextData(parsed, path);
    }
    if (PipesDefaultContextLoader.DIRECT_KEY in params) {
      const data = params[PipesDefaultContextLoader.DIRECT_KEY];
      if (!isObject(data)) {
        throw new DagsterPipesError(
          `Invalid type for parameter \`data\` passed from orchestration side to \`PipesDefaultContextLoader\`. Expected an object, got ${typeName(data)}.`,
        );
      }
      return normalizeContextData(data, "inline data");
    }
    // s3.ts imports this module too; the class is only used here, at call time.
    if (isS3ContextParams(params)) return new PipesS3ContextLoader(this.s3).loadContext(params);
    throw new DagsterPipesError(
      `Invalid params for PipesDefaultContextLoader, expected key "path", "data" or "bucket" and "key", received ${JSON.stringify(params)}`,
    );
  }
}
