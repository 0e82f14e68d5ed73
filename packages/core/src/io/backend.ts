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
  /** Write a data file that no record names yet. */
  putData(rel: string, bytes: Uint8Array, asset: string): Promise<void>;
  /** Replace `record.json` in one step: the commit point. Reports a writer that committed in between. */
  commitRecord(rel: string, bytes: Uint8Array, asset: string, runId: string): Promise<CommitResult>;
  /** The bytes of one file, undefined when it does not exist. */
  get(rel: string, asset: string | undefined): Promise<Buffer | undefined>;
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
