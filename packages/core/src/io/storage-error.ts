/** Why a storage operation failed and what to do, for the errno codes a local store meets. */
function storageHint(code: string | undefined, root: string): string {
  switch (code) {
    case "ENOSPC":
    case "EDQUOT":
      return `free space on that filesystem (the previous output, if any, is intact) or set BATON_STORAGE to a folder on a larger disk (now ${root})`;
    case "EROFS":
      return `the filesystem is read-only: set BATON_STORAGE to a writable folder (now ${root})`;
    case "EACCES":
    case "EPERM":
      return `this user cannot write there: fix the folder's permissions or set BATON_STORAGE to a writable folder (now ${root})`;
    case "ENAMETOOLONG":
      return "a key is too long for a file name: use shorter partition keys or asset key parts (each at most 255 bytes once percent-encoded)";
    case "ENOTDIR":
    case "EEXIST":
      return `a file stands where the store needs a folder: remove it, or set BATON_STORAGE to another folder (now ${root})`;
    default:
      return `check that BATON_STORAGE (now ${root}) is a writable local folder`;
  }
}

/** What an object store's failure adds to the message: its own code, hint and whether a retry may help. */
export interface StorageFailure {
  readonly code: string;
  readonly hint: string;
  readonly retryable: boolean;
  /** The reason shown instead of the cause's message. */
  readonly reason?: string;
}

/**
 * A storage failure (disk full, read-only filesystem, permissions, an unreachable or refusing
 * object store): names the path and the fix. Not a BatonError on purpose: it is not a mistake in
 * the definitions. `code` is the errno code (ENOSPC, EROFS…) or the object store's classification
 * (S3_UNREACHABLE, S3_NO_BUCKET, S3_CREDENTIALS, S3_ACCESS_DENIED, …), `cause` the original error.
 * `retryable` is false when a retry cannot succeed until someone fixes the store's configuration.
 */
export class BatonStorageError extends Error {
  override name = "BatonStorageError";
  readonly code: string | undefined;
  readonly path: string;
  readonly hint: string;
  readonly asset: string | undefined;
  readonly retryable: boolean;
  constructor(action: string, path: string, cause: unknown, root: string, asset?: string, failure?: StorageFailure) {
    const code = failure?.code ?? (cause as NodeJS.ErrnoException | undefined)?.code;
    const reason = failure?.reason ?? ((cause as Error | undefined)?.message ?? String(cause)).replace(/^[A-Z]+: /, "").replace(/, \w+(?: '[^']*'(?: -> '[^']*')?)?$/, "");
    const hint = failure?.hint ?? storageHint(code, root);
    super(`${asset !== undefined ? `asset "${asset}": ` : ""}cannot ${action} ${path}: ${reason}${code && !reason.includes(code) ? ` (${code})` : ""}\n  fix: ${hint}`, { cause });
    this.code = code;
    this.path = path;
    this.hint = hint;
    this.asset = asset;
    this.retryable = failure?.retryable ?? true;
  }
}
