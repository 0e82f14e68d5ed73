/**
 * `@baton/adapter-dagster/pipes`: the external (launched-process) side of the Dagster Pipes
 * protocol, version 0.1, for Node. Channels: files, stdout/stderr, and S3 (dagster-aws's
 * `PipesS3ContextInjector` / `PipesS3MessageReader`), chosen from the bootstrap params. Depends
 * only on Node built-ins; the S3 channel loads the optional peer `@aws-sdk/client-s3`.
 *
 * ```ts
 * import { openDagsterPipes, PipesMetadata } from "@baton/adapter-dagster/pipes";
 *
 * const pipes = openDagsterPipes();
 * try {
 *   pipes.log.info(`materializing ${pipes.assetKey}`);
 *   pipes.reportAssetMaterialization({ metadata: { rows: 42, schema: PipesMetadata.tableSchema([{ name: "id", type: "int" }]) } });
 *   pipes.close();
 * } catch (error) {
 *   pipes.close(error);
 *   process.exitCode = 1;
 * }
 * ```
 */
export {
  openDagsterPipes,
  withDagsterPipes,
  getPipesContext,
  isPipesContextInitialized,
  resetPipesContext,
  type OpenDagsterPipesOptions,
} from "./open.js";
export {
  ActivePipesContext,
  NoopPipesContext,
  type ActivePipesContextOptions,
  type PipesContext,
  type PipesLogger,
  type ReportAssetCheckOptions,
  type ReportAssetMaterializationOptions,
} from "./context.js";
export {
  PipesMetadata,
  inferMetadataValue,
  isPipesMetadataType,
  isPipesMetadataValue,
  normalizeMetadata,
  normalizeRawValue,
  type PipesMetadataInput,
  type PipesMetadataValue,
  type PipesTableColumn,
  type PipesTableColumnConstraints,
  type PipesTableColumnDep,
  type PipesTableRecord,
  type PipesTableScalar,
} from "./metadata.js";
export {
  PipesCliArgsParamsLoader,
  PipesEnvVarParamsLoader,
  PipesMappingParamsLoader,
  decodeParam,
  encodeParam,
  findCliArgument,
  isDagsterPipesProcess,
  resolveParamsLoader,
  type PipesParamsLoader,
  type PipesParamsSource,
} from "./params.js";
export {
  PipesDefaultContextLoader,
  normalizeContextData,
  type PipesContextLoader,
} from "./context-loader.js";
export {
  PipesBufferedStreamMessageWriterChannel,
  PipesDefaultMessageWriter,
  PipesFileMessageWriterChannel,
  PipesStdioCapture,
  PipesStreamMessageWriterChannel,
  PROCESS_STDIO,
  serializeMessage,
  writeAllSync,
  type PipesMessageWriter,
  type PipesMessageWriterChannel,
  type PipesStdioSink,
  type PipesStdioStream,
} from "./writers.js";
export {
  PipesS3ContextLoader,
  PipesS3MessageWriter,
  PipesS3MessageWriterChannel,
  isS3ContextParams,
  isS3MessagesParams,
  type PipesS3MessageWriterOptions,
  type PipesS3Options,
} from "./s3.js";
export { PipesS3Bridge, defaultS3Client, type PipesS3BridgeOptions, type PipesS3ChunkSink, type PipesS3Client } from "./s3-bridge.js";
export { PipesChunkUploader, messageChunkKey, type PipesChunkPut, type PipesChunkUploaderOptions } from "./chunks.js";
export {
  AWS_SDK_S3_RANGE,
  DEFAULT_S3_UPLOAD_INTERVAL,
  S3_INTERVAL_ENV_VAR,
  s3ClientConfig,
  s3UploadInterval,
  type PipesS3ClientConfig,
} from "./s3-config.js";
export {
  installProcessHooks,
  PipesProcessExitError,
  type ClosablePipesContext,
  type PipesProcessHooksOptions,
} from "./lifecycle.js";
export {
  DagsterPipesError,
  DagsterPipesInterrupt,
  exitCodeForSignal,
  isPipesException,
  toPipesException,
  type PipesHandledSignal,
} from "./errors.js";
export { coerceAssetKey, toAssetKeyPath, toEscapedAssetKey, type PipesAssetKeyLike } from "./asset-keys.js";
export { PipesFloat, serializeJson } from "./serialize.js";
export {
  DAGSTER_PIPES_CONTEXT_CLI_ARGUMENT,
  DAGSTER_PIPES_CONTEXT_ENV_VAR,
  DAGSTER_PIPES_MESSAGES_CLI_ARGUMENT,
  DAGSTER_PIPES_MESSAGES_ENV_VAR,
  PIPES_ASSET_CHECK_SEVERITIES,
  PIPES_LOG_LEVELS,
  PIPES_METADATA_TYPE_INFER,
  PIPES_METADATA_TYPES,
  PIPES_METHODS,
  PIPES_PROTOCOL_VERSION,
  PIPES_PROTOCOL_VERSION_FIELD,
  makeMessage,
  type PipesAssetCheckSeverity,
  type PipesContextData,
  type PipesDataProvenance,
  type PipesException,
  type PipesExtras,
  type PipesLogLevel,
  type PipesMessage,
  type PipesMetadataType,
  type PipesMethod,
  type PipesOpenedData,
  type PipesParams,
  type PipesPartitionKeyRange,
  type PipesTimeWindow,
} from "./protocol.js";
