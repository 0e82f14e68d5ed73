/**
 * Wire-level constants and types of the Dagster Pipes protocol, version "0.1".
 *
 * Every name here matches `dagster_pipes/__init__.py` (dagster-pipes 1.13.28): the message
 * envelope, the method names, the context payload fields and the metadata type names.
 */

/** Version of the protocol (not of any package). */
export const PIPES_PROTOCOL_VERSION = "0.1";
/** Envelope key that carries the protocol version. */
export const PIPES_PROTOCOL_VERSION_FIELD = "__dagster_pipes_version";

/** Environment variable with the encoded context-injector params. */
export const DAGSTER_PIPES_CONTEXT_ENV_VAR = "DAGSTER_PIPES_CONTEXT";
/** Environment variable with the encoded message-reader params. */
export const DAGSTER_PIPES_MESSAGES_ENV_VAR = "DAGSTER_PIPES_MESSAGES";
/** CLI form of {@link DAGSTER_PIPES_CONTEXT_ENV_VAR} (`--` + lower-case, `_` → `-`). */
export const DAGSTER_PIPES_CONTEXT_CLI_ARGUMENT = "--dagster-pipes-context";
/** CLI form of {@link DAGSTER_PIPES_MESSAGES_ENV_VAR}. */
export const DAGSTER_PIPES_MESSAGES_CLI_ARGUMENT = "--dagster-pipes-messages";

/** All message methods the orchestrator understands. */
export const PIPES_METHODS = [
  "opened",
  "closed",
  "log",
  "report_asset_materialization",
  "report_asset_check",
  "report_custom_message",
  "log_external_stream",
] as const;
export type PipesMethod = (typeof PIPES_METHODS)[number];

/** Metadata type that asks the orchestrator to infer the type from the raw value. */
export const PIPES_METADATA_TYPE_INFER = "__infer__";

/** Every metadata type name accepted by `metadata_value_from_external` on the orchestrator. */
export const PIPES_METADATA_TYPES = [
  "__infer__",
  "text",
  "url",
  "path",
  "notebook",
  "json",
  "md",
  "float",
  "int",
  "bool",
  "dagster_run",
  "asset",
  "null",
  "table",
  "table_schema",
  "table_column_lineage",
  "timestamp",
] as const;
export type PipesMetadataType = (typeof PIPES_METADATA_TYPES)[number];

/** Log levels as Python's `logging` names them (`record.levelname`). */
export const PIPES_LOG_LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] as const;
export type PipesLogLevel = (typeof PIPES_LOG_LEVELS)[number];

export const PIPES_ASSET_CHECK_SEVERITIES = ["WARN", "ERROR"] as const;
export type PipesAssetCheckSeverity = (typeof PIPES_ASSET_CHECK_SEVERITIES)[number];

/** Params handed over by the orchestrator (decoded from the env var / CLI argument). */
export type PipesParams = Record<string, unknown>;
/** Arbitrary user data (`extras`). */
export type PipesExtras = Record<string, unknown>;

export interface PipesMessage {
  __dagster_pipes_version: string;
  method: PipesMethod;
  params: Record<string, unknown> | null;
}

export interface PipesPartitionKeyRange {
  start: string;
  end: string;
}

/** Time window of a time-partitioned step; `start`/`end` are ISO-8601 strings. */
export interface PipesTimeWindow {
  start: string;
  end: string;
}

export interface PipesDataProvenance {
  code_version: string;
  input_data_versions: Record<string, string>;
  is_user_provided: boolean;
}

/** The context payload the orchestrator injects (`PipesContextData`). */
export interface PipesContextData {
  asset_keys: string[] | null;
  code_version_by_asset_key: Record<string, string | null> | null;
  provenance_by_asset_key: Record<string, PipesDataProvenance | null> | null;
  partition_key: string | null;
  partition_key_range: PipesPartitionKeyRange | null;
  partition_time_window: PipesTimeWindow | null;
  run_id: string;
  job_name: string | null;
  retry_number: number;
  extras: PipesExtras;
}

/** Exception payload carried by `closed` (`PipesException`). */
export interface PipesException {
  message: string;
  stack: string[];
  name: string | null;
  cause: PipesException | null;
  context: PipesException | null;
}

/** Payload of the `opened` message (`PipesOpenedData`). */
export interface PipesOpenedData {
  extras: PipesExtras;
}

export function makeMessage(
  method: PipesMethod,
  params: Record<string, unknown> | null,
): PipesMessage {
  return {
    [PIPES_PROTOCOL_VERSION_FIELD]: PIPES_PROTOCOL_VERSION,
    method,
    params,
  } as PipesMessage;
}
