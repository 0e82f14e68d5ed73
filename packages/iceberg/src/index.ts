export {
  IcebergCatalogClient,
  schemaProblems,
  type CreateTableOptions,
  type IcebergCatalogConfig,
  type IcebergS3Config,
  type ScanFilter,
  type ScanOptions,
  type SnapshotInfo,
  type TableColumn,
} from "./client.js";
export { IcebergError, type IcebergErrorReason } from "./errors.js";
export { DUCKDB_ENGINE_VERSION, EXTENSIONS, EXTENSION_REQUIREMENTS, defaultExtensionDirectory, ensureExtensions, extensionFile } from "./extensions.js";
export { icebergCatalog } from "./resource.js";
export type { Scalar } from "./sql.js";
