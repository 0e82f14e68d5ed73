import { BatonError } from "@baton/core";
import type { AdapterOption, ProjectContext } from "@baton/core/build";
import type { PrefectResources } from "./resources.js";

/** `baton prefect build` options, as resolved (flags over package.json `"baton": { "prefect": … }`). */
export interface PrefectOptions {
  /** The materialize flow's name (the sensor flow is "<name>-sensors"): the option, else the package name without its scope. */
  readonly flowName: string;
  /** Where Prefect keeps each resource's config (Blocks, Secrets, Variables); see resources.ts. */
  readonly resources: PrefectResources;
  /** The process work pool prefect.yaml deploys to. */
  readonly workPool: string;
  /**
   * A Prefect Secret block whose JSON value holds the S3 store's credentials (aws_access_key_id,
   * aws_secret_access_key, aws_session_token, region, endpoint_url): loaded in the flow run, put
   * into each Node step's environment only. Null: the worker's environment decides.
   */
  readonly storageSecret: string | null;
  /**
   * Opt-in task caching: a task whose asset has a codeVersion (a table output, no resources) is
   * keyed on that code version and its inputs' data versions, and ends Cached instead of running
   * when they match a completed run's; only the output's references are persisted.
   */
  readonly cache: boolean;
}

export const DEFAULT_WORK_POOL = "baton";
export const DEFAULT_FLOW_NAME = "baton";

export const PREFECT_OPTIONS: Readonly<Record<string, AdapterOption>> = {
  "flow-name": { type: "string", description: 'name of the materialize flow (default: the package name without its scope; the sensor flow is "<name>-sensors")' },
  resources: { type: "string", jsonFile: true, description: "JSON file mapping each resource's config to Prefect Blocks, Secrets and Variables" },
  "work-pool": { type: "string", description: `process work pool prefect.yaml deploys to (default "${DEFAULT_WORK_POOL}")` },
  cache: { type: "boolean", description: "cache tasks by their asset's codeVersion and their inputs' data versions (assets with a codeVersion, a table output and no resources); the persisted result is the output's references" },
  "storage-secret": { type: "string", description: "Prefect Secret block (JSON: aws_access_key_id, aws_secret_access_key, region, endpoint_url, …) with the S3 store's credentials for the steps (default: the workers' environment)" },
};

const optionError = (option: string, problem: string, hint: string) => new BatonError("CONFIG", `prefect option ${option}: ${problem}`, { hint });

function stringOption(raw: Readonly<Record<string, unknown>>, flag: string, key: string): string | null {
  const value = raw[flag] ?? raw[key];
  if (value === undefined || value === null) return null;
  if (typeof value !== "string" || value.trim() === "") throw optionError(`--${flag}`, `${JSON.stringify(value)} is not a name`, `pass a non-empty string (package.json "baton": { "prefect": { "${key}": "…" } })`);
  return value;
}

function booleanOption(raw: Readonly<Record<string, unknown>>, key: string): boolean {
  const value = raw[key];
  if (value === undefined || value === null) return false;
  if (typeof value !== "boolean") throw optionError(`--${key}`, `${JSON.stringify(value)} is not true or false`, `pass --${key}, or package.json "baton": { "prefect": { "${key}": true } }`);
  return value;
}

/** Accepts both the flag spelling ("flow-name") and package.json's ("flowName"). */
export function resolvePrefectOptions(raw: Readonly<Record<string, unknown>>, project: ProjectContext = { name: undefined }): PrefectOptions {
  const resources = raw.resources ?? {};
  if (typeof resources !== "object" || resources === null || Array.isArray(resources)) {
    throw optionError("--resources", "must be a JSON object keyed by resource", 'e.g. { "warehouse": { "block": "warehouse-prod" } }');
  }
  return {
    flowName: stringOption(raw, "flow-name", "flowName") ?? project.name?.replace(/^@[^/]+\//, "") ?? DEFAULT_FLOW_NAME,
    resources: resources as PrefectResources,
    workPool: stringOption(raw, "work-pool", "workPool") ?? DEFAULT_WORK_POOL,
    storageSecret: stringOption(raw, "storage-secret", "storageSecret"),
    cache: booleanOption(raw, "cache"),
  };
}
