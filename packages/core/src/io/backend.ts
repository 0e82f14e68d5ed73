/**
 * What a store needs from where its objects live: a local folder or an S3 bucket. Paths are
 * relative to the store's root, "/"-separated, each segment already encoded by the store; the
 * store above (store.ts) owns the layout, record validation, the read-retry loop and the hints.
 */
export interface StoreBackend {
  /** The root, for messages: "/abs/folder" or "s3://bucket/prefix". */
  readonly url: string;
  /** A relative path as a local path or an s3:// URL. */
  location(rel: string): string;
  /** Make the folder `rel` writable now, so a store that cannot be written fails before the compute. */
  prepare(rel: string, asset: string): Promise<void>;
  /** The name of a new data file in its partition folder (unique per write on S3). */
  dataName(hash16: string, ext: "parquet" | "ipc"): string;
  /**
   * Write a data file that no record names yet. `fill` writes the whole file to the local path it
   * is given (polars writes it there itself, so no buffer of the whole file exists in JS): the
   * store's temp file beside the target (local), or a spool file that is then uploaded (S3).
   */
  putData(rel: string, fill: FillFile, asset: string): Promise<void>;
  /** Replace `record.json` in one step: the commit point. Reports a writer that committed in between. */
  commitRecord(rel: string, bytes: Uint8Array, asset: string, runId: string): Promise<CommitResult>;
  /** The bytes of one file, undefined when it does not exist. */
  get(rel: string, asset: string | undefined): Promise<Buffer | undefined>;
  /**
   * Read a data file through `read`, given a local path to it (the file itself, or a spool copy
   * downloaded in a stream from S3), so no JS buffer of the whole file is needed; undefined when
   * the file does not exist.
   */
  readData<T>(rel: string, read: (path: string) => T, asset: string | undefined): Promise<T | undefined>;
  /** The child folders of `rel` that hold a `record.json` (their raw segment names). */
  childrenWithRecord(rel: string): Promise<string[]>;
  /** Remove data files of folder `rel` that are not `keep` and older than the stale window. */
  removeStale(rel: string, keep: string | null): Promise<void>;
  /** Every file below the root, relative, sorted. */
  listFiles(): Promise<string[]>;
}

export interface CommitResult {
  /** Another writer committed between our read of the record and our commit (S3 only). */
  readonly conflict?: { readonly otherRunId: string | null };
}

/** Writes a complete file at a local path (which exists, empty); a throw fails the write. */
export type FillFile = (path: string) => void;
