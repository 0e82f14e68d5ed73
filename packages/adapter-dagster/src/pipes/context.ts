/**
 * The external-side Pipes context (`PipesContext` in dagster-pipes): read access to the injected
 * context data and the methods that stream messages back to the orchestrator.
 *
 * Accessor semantics and error messages follow dagster-pipes 1.13.28 (they name the Python
 * properties, e.g. `asset_key`, as the protocol does).
 */
import { coerceAssetKey, type PipesAssetKeyLike } from "./asset-keys.js";
import type { PipesContextLoader } from "./context-loader.js";
import { DagsterPipesError, toPipesException } from "./errors.js";
import { normalizeMetadata, type PipesMetadataInput } from "./metadata.js";
import type { PipesParamsLoader } from "./params.js";
import {
  PIPES_ASSET_CHECK_SEVERITIES,
  PIPES_LOG_LEVELS,
  makeMessage,
  type PipesAssetCheckSeverity,
  type PipesContextData,
  type PipesDataProvenance,
  type PipesExtras,
  type PipesLogLevel,
  type PipesMethod,
  type PipesPartitionKeyRange,
  type PipesTimeWindow,
} from "./protocol.js";
import type { PipesMessageWriter, PipesMessageWriterChannel, PipesStdioStream } from "./writers.js";

/** Logger whose records are sent to the orchestrator as `log` messages. */
export interface PipesLogger {
  debug(message: string): void;
  info(message: string): void;
  warning(message: string): void;
  /** Alias of {@link PipesLogger.warning}. */
  warn(message: string): void;
  error(message: string): void;
  critical(message: string): void;
  log(level: PipesLogLevel, message: string): void;
}

export interface ReportAssetMaterializationOptions {
  /** Defaults to the single asset in scope; required when several are. */
  assetKey?: PipesAssetKeyLike | null;
  /** Raw values (type inferred by the orchestrator) or `PipesMetadata.*` typed entries. */
  metadata?: PipesMetadataInput | null;
  dataVersion?: string | null;
}

export interface ReportAssetCheckOptions {
  checkName: string;
  passed: boolean;
  /** Defaults to the single asset in scope; required when several are. */
  assetKey?: PipesAssetKeyLike | null;
  /** Defaults to `"ERROR"`. */
  severity?: PipesAssetCheckSeverity;
  metadata?: PipesMetadataInput | null;
}

export interface PipesContext {
  /** False for the no-op context returned when the process was not launched by Dagster. */
  readonly isDagsterPipesProcess: boolean;
  readonly isClosed: boolean;
  readonly log: PipesLogger;

  readonly isAssetStep: boolean;
  /** The single asset in scope; throws when there are none or several. */
  readonly assetKey: string;
  /** All asset keys in scope (escaped `/`-joined strings); throws when not an asset step. */
  readonly assetKeys: readonly string[];
  readonly provenance: PipesDataProvenance | null;
  readonly provenanceByAssetKey: Readonly<Record<string, PipesDataProvenance | null>>;
  readonly codeVersion: string | null;
  readonly codeVersionByAssetKey: Readonly<Record<string, string | null>>;

  readonly isPartitionStep: boolean;
  readonly partitionKey: string;
  readonly partitionKeyRange: PipesPartitionKeyRange;
  /** Null for non-time partitions; throws when the step has no partitions. */
  readonly partitionTimeWindow: PipesTimeWindow | null;

  readonly runId: string;
  readonly jobName: string | null;
  readonly retryNumber: number;
  readonly extras: Readonly<PipesExtras>;
  /** The extra named `key`; throws when it was not provided. */
  getExtra<T = unknown>(key: string): T;

  reportAssetMaterialization(options?: ReportAssetMaterializationOptions): void;
  reportAssetCheck(options: ReportAssetCheckOptions): void;
  /** Any JSON-serialisable payload; read on the orchestrator with `get_custom_messages()`. */
  reportCustomMessage(payload: unknown): void;
  logExternalStream(stream: PipesStdioStream, text: string, extras?: PipesExtras | null): void;

  /**
   * Sends `closed` (with the exception payload when `error` is given) and flushes the channel.
   * Idempotent. Every later report throws.
   */
  close(error?: unknown): void;
}

// ---------------------------------------------------------------------------------------------
// Assertions with the messages of dagster-pipes
// ---------------------------------------------------------------------------------------------

function assertNotNull<T>(value: T | null | undefined, desc: string): T {
  if (value === null || value === undefined) throw new DagsterPipesError(`Missing required property: ${desc}`);
  return value;
}

function assertDefinedAssetProperty<T>(value: T | null | undefined, key: string): T {
  return assertNotNull(value, `\`${key}\` is undefined. Current step does not target an asset.`);
}

function assertSingleAsset(data: PipesContextData, key: string): void {
  if ((data.asset_keys ?? []).length !== 1) {
    throw new DagsterPipesError(`\`${key}\` is undefined. Current step targets multiple assets.`);
  }
}

function assertDefinedPartitionProperty<T>(value: T | null | undefined, key: string): T {
  return assertNotNull(value, `\`${key}\` is undefined. Current step does not target any partitions.`);
}

function typeOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

function assertParamType(value: unknown, expected: "string" | "boolean", method: string, param: string): void {
  if (typeof value !== expected) {
    throw new DagsterPipesError(
      `Invalid type for parameter \`${param}\` of \`${method}\`. Expected \`${expected}\`, got \`${typeOf(value)}\`.`,
    );
  }
}

function pyRepr(values: readonly string[]): string {
  return `[${values.map((v) => `'${v.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`).join(", ")}]`;
}

function resolveOptionallyPassedAssetKey(
  data: PipesContextData,
  assetKey: PipesAssetKeyLike | null | undefined,
  method: string,
): string {
  if (assetKey !== null && assetKey !== undefined && typeof assetKey !== "string" && !Array.isArray(assetKey)) {
    throw new DagsterPipesError(
      `Invalid type for parameter \`asset_key\` of \`${method}\`. Expected \`string | string[] | null\`, got \`${typeOf(assetKey)}\`.`,
    );
  }
  let key = assetKey === null || assetKey === undefined ? "" : coerceAssetKey(assetKey);
  const defined = data.asset_keys;
  if (defined && defined.length > 0) {
    if (key && !defined.includes(key)) {
      throw new DagsterPipesError(`Invalid asset key. Expected one of \`${pyRepr(defined)}\`, got \`${key}\`.`);
    }
    if (!key) {
      if (defined.length !== 1) {
        throw new DagsterPipesError(
          `Calling \`${method}\` without passing an asset key is undefined. Current step targets multiple assets.`,
        );
      }
      key = defined[0] as string;
    }
  }
  if (!key) {
    throw new DagsterPipesError(
      `Calling \`${method}\` without passing an asset key is undefined. Current step does not target a specific asset.`,
    );
  }
  return key;
}

function makeLogger(send: (level: PipesLogLevel, message: string) => void): PipesLogger {
  const log = (level: PipesLogLevel, message: string): void => {
    if (!(PIPES_LOG_LEVELS as readonly string[]).includes(level)) {
      throw new DagsterPipesError(`Invalid log level \`${String(level)}\`. Expected one of ${PIPES_LOG_LEVELS.join(", ")}.`);
    }
    send(level, typeof message === "string" ? message : String(message));
  };
  return {
    debug: (message) => log("DEBUG", message),
    info: (message) => log("INFO", message),
    warning: (message) => log("WARNING", message),
    warn: (message) => log("WARNING", message),
    error: (message) => log("ERROR", message),
    critical: (message) => log("CRITICAL", message),
    log,
  };
}

// ---------------------------------------------------------------------------------------------
// Active context
// ---------------------------------------------------------------------------------------------

export interface ActivePipesContextOptions {
  paramsLoader: PipesParamsLoader;
  contextLoader: PipesContextLoader;
  messageWriter: PipesMessageWriter;
  /** Called once after `closed` was written and the channel closed. */
  onClose?: () => void;
}

/** The context of a process launched by Dagster. Sends `opened` on construction. */
export class ActivePipesContext implements PipesContext {
  readonly isDagsterPipesProcess = true;
  readonly log: PipesLogger;
  private readonly data: PipesContextData;
  private readonly channel: PipesMessageWriterChannel;
  private readonly materializedAssets = new Set<string>();
  private readonly onClose: (() => void) | undefined;
  private closed = false;

  constructor(options: ActivePipesContextOptions) {
    const contextParams = options.paramsLoader.loadContextParams();
    const messagesParams = options.paramsLoader.loadMessagesParams();
    this.data = options.contextLoader.loadContext(contextParams);
    this.channel = options.messageWriter.open(messagesParams);
    this.onClose = options.onClose;
    const extras = options.messageWriter.getOpenedExtras?.() ?? {};
    this.channel.writeMessage(makeMessage("opened", { extras }));
    this.log = makeLogger((level, message) => this.writeMessage("log", { message, level }));
  }

  /** The raw context payload as injected by the orchestrator. */
  get contextData(): Readonly<PipesContextData> {
    return this.data;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  close(error?: unknown): void {
    if (this.closed) return;
    this.closed = true;
    const params = error === undefined || error === null ? {} : { exception: toPipesException(error) };
    try {
      this.channel.writeMessage(makeMessage("closed", params));
    } finally {
      try {
        this.channel.close?.();
      } finally {
        this.onClose?.();
      }
    }
  }

  private writeMessage(method: PipesMethod, params: Record<string, unknown> | null): void {
    if (this.closed) throw new DagsterPipesError("Cannot send message after pipes context is closed.");
    this.channel.writeMessage(makeMessage(method, params));
  }

  // ----- accessors -----

  get isAssetStep(): boolean {
    return this.data.asset_keys !== null;
  }

  get assetKey(): string {
    const assetKeys = assertDefinedAssetProperty(this.data.asset_keys, "asset_key");
    assertSingleAsset(this.data, "asset_key");
    return assetKeys[0] as string;
  }

  get assetKeys(): readonly string[] {
    return assertDefinedAssetProperty(this.data.asset_keys, "asset_keys");
  }

  get provenance(): PipesDataProvenance | null {
    const byKey = assertDefinedAssetProperty(this.data.provenance_by_asset_key, "provenance");
    assertSingleAsset(this.data, "provenance");
    return Object.values(byKey)[0] ?? null;
  }

  get provenanceByAssetKey(): Readonly<Record<string, PipesDataProvenance | null>> {
    return assertDefinedAssetProperty(this.data.provenance_by_asset_key, "provenance_by_asset_key");
  }

  get codeVersion(): string | null {
    const byKey = assertDefinedAssetProperty(this.data.code_version_by_asset_key, "code_version");
    assertSingleAsset(this.data, "code_version");
    return Object.values(byKey)[0] ?? null;
  }

  get codeVersionByAssetKey(): Readonly<Record<string, string | null>> {
    return assertDefinedAssetProperty(this.data.code_version_by_asset_key, "code_version_by_asset_key");
  }

  get isPartitionStep(): boolean {
    return this.data.partition_key_range !== null;
  }

  get partitionKey(): string {
    return assertDefinedPartitionProperty(this.data.partition_key, "partition_key");
  }

  get partitionKeyRange(): PipesPartitionKeyRange {
    return assertDefinedPartitionProperty(this.data.partition_key_range, "partition_key_range");
  }

  get partitionTimeWindow(): PipesTimeWindow | null {
    assertDefinedPartitionProperty(this.data.partition_key_range, "partition_time_window");
    return this.data.partition_time_window;
  }

  get runId(): string {
    return this.data.run_id;
  }

  get jobName(): string | null {
    return this.data.job_name;
  }

  get retryNumber(): number {
    return this.data.retry_number;
  }

  get extras(): Readonly<PipesExtras> {
    return this.data.extras;
  }

  getExtra<T = unknown>(key: string): T {
    if (!Object.hasOwn(this.data.extras, key)) {
      throw new DagsterPipesError(`Extra \`${key}\` is undefined. Extras must be provided by user.`);
    }
    return this.data.extras[key] as T;
  }

  // ----- reports -----

  reportAssetMaterialization(options: ReportAssetMaterializationOptions = {}): void {
    const method = "report_asset_materialization";
    const assetKey = resolveOptionallyPassedAssetKey(this.data, options.assetKey, method);
    if (this.materializedAssets.has(assetKey)) {
      throw new DagsterPipesError(
        `Calling \`${method}\` with asset key \`${assetKey}\` is undefined. Asset has already been materialized, so no additional data can be reported for it.`,
      );
    }
    const metadata = normalizeMetadata(options.metadata, method);
    const dataVersion = options.dataVersion ?? null;
    if (dataVersion !== null) assertParamType(dataVersion, "string", method, "data_version");
    this.writeMessage(method, { asset_key: assetKey, data_version: dataVersion, metadata });
    this.materializedAssets.add(assetKey);
  }

  reportAssetCheck(options: ReportAssetCheckOptions): void {
    const method = "report_asset_check";
    const assetKey = resolveOptionallyPassedAssetKey(this.data, options.assetKey, method);
    assertParamType(options.checkName, "string", method, "check_name");
    assertParamType(options.passed, "boolean", method, "passed");
    const severity = options.severity ?? "ERROR";
    if (!(PIPES_ASSET_CHECK_SEVERITIES as readonly string[]).includes(severity)) {
      throw new DagsterPipesError(
        `Invalid value for parameter \`severity\` of \`${method}\`. Expected one of \`WARN, ERROR\`, got \`${String(severity)}\`.`,
      );
    }
    const metadata = normalizeMetadata(options.metadata, method);
    this.writeMessage(method, {
      asset_key: assetKey,
      check_name: options.checkName,
      passed: options.passed,
      metadata,
      severity,
    });
  }

  reportCustomMessage(payload: unknown): void {
    this.writeMessage("report_custom_message", { payload: payload === undefined ? null : payload });
  }

  logExternalStream(stream: PipesStdioStream, text: string, extras?: PipesExtras | null): void {
    this.writeMessage("log_external_stream", { stream, text, extras: extras ?? {} });
  }
}

// ---------------------------------------------------------------------------------------------
// No-op context
// ---------------------------------------------------------------------------------------------

function notLaunched(property: string): never {
  throw new DagsterPipesError(
    `Cannot read \`${property}\`: this process was not launched by a Dagster orchestration process ` +
      "(DAGSTER_PIPES_CONTEXT is not set), so the Pipes context is a no-op.",
  );
}

/**
 * Returned by `openDagsterPipes()` when the process was not launched by Dagster (Python returns a
 * `MagicMock`). Logging, reports and `close()` do nothing; `isAssetStep`/`isPartitionStep` are
 * false and `extras` is empty; every accessor that needs injected data throws a clear error.
 */
export class NoopPipesContext implements PipesContext {
  readonly isDagsterPipesProcess = false;
  readonly log: PipesLogger = makeLogger(() => undefined);
  private closed = false;

  get isClosed(): boolean {
    return this.closed;
  }
  close(): void {
    this.closed = true;
  }

  get isAssetStep(): boolean {
    return false;
  }
  get assetKey(): string {
    return notLaunched("asset_key");
  }
  get assetKeys(): readonly string[] {
    return notLaunched("asset_keys");
  }
  get provenance(): PipesDataProvenance | null {
    return notLaunched("provenance");
  }
  get provenanceByAssetKey(): Readonly<Record<string, PipesDataProvenance | null>> {
    return notLaunched("provenance_by_asset_key");
  }
  get codeVersion(): string | null {
    return notLaunched("code_version");
  }
  get codeVersionByAssetKey(): Readonly<Record<string, string | null>> {
    return notLaunched("code_version_by_asset_key");
  }
  get isPartitionStep(): boolean {
    return false;
  }
  get partitionKey(): string {
    return notLaunched("partition_key");
  }
  get partitionKeyRange(): PipesPartitionKeyRange {
    return notLaunched("partition_key_range");
  }
  get partitionTimeWindow(): PipesTimeWindow | null {
    return notLaunched("partition_time_window");
  }
  get runId(): string {
    return notLaunched("run_id");
  }
  get jobName(): string | null {
    return notLaunched("job_name");
  }
  get retryNumber(): number {
    return notLaunched("retry_number");
  }
  get extras(): Readonly<PipesExtras> {
    return {};
  }
  getExtra<T = unknown>(key: string): T {
    return notLaunched(`extras.${key}`);
  }
  reportAssetMaterialization(): void {}
  reportAssetCheck(): void {}
  reportCustomMessage(): void {}
  logExternalStream(): void {}
}
