import { isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { BatonError } from "../errors.js";
import { BackendIOStore, LocalIOStore, type IOStore } from "./store.js";
import { S3Backend, type S3StoreOptions } from "./s3-backend.js";

type Env = Readonly<Record<string, string | undefined>>;

export interface OpenStoreOptions {
  /** The folder used when `spec` is unset (default `<cwd>/.baton/storage`). */
  readonly defaultRoot?: string;
  /** S3 knobs (tests): stale window, part size, a hook before the commit. */
  readonly s3?: S3StoreOptions;
}

const SUPPORTED = "a local folder (an absolute or relative path, or file:///abs/path) or s3://bucket[/prefix]";

/**
 * The store `BATON_STORAGE` names: the one place that value is parsed (STORAGE-CONTRACT.md).
 * Unset: `defaultRoot`; a path or `file://` URL: the local store; `s3://bucket[/prefix]`: the S3
 * store, configured from `env` (never from the URL); anything else: a STORAGE_URL error.
 */
export function openStore(spec: string | undefined, env: Env = process.env, options: OpenStoreOptions = {}): IOStore {
  if (spec === undefined || spec === "") return new LocalIOStore(options.defaultRoot ?? join(process.cwd(), ".baton", "storage"));
  const parsed = parseStorage(spec);
  return parsed.kind === "local" ? new LocalIOStore(parsed.path) : new BackendIOStore(new S3Backend(parsed, env, options.s3));
}

export type StorageLocation = { readonly kind: "local"; readonly path: string } | { readonly kind: "s3"; readonly bucket: string; readonly prefix: string };

/** What a BATON_STORAGE (or `--storage`) value names, or a STORAGE_URL error saying what is supported. */
export function parseStorage(spec: string, setting = "BATON_STORAGE"): StorageLocation {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(spec)?.[1];
  // "C:\…" is a Windows drive, not a scheme.
  if (scheme === undefined || (scheme.length === 1 && process.platform === "win32")) return { kind: "local", path: resolve(spec) };
  const lower = scheme.toLowerCase();
  if (lower === "file") {
    let path: string;
    try {
      path = fileURLToPath(spec);
    } catch (e) {
      throw bad(spec, setting, `it is not a file URL of an absolute path (${(e as Error).message})`);
    }
    if (!isAbsolute(path)) throw bad(spec, setting, "a file URL names an absolute path");
    return { kind: "local", path };
  }
  if (lower === "s3") return { kind: "s3", ...parseS3(spec, setting) };
  throw bad(spec, setting, `the scheme "${scheme}:" is not supported`);
}

function parseS3(spec: string, setting: string): { bucket: string; prefix: string } {
  const m = /^s3:\/\/([^/?#]*)(\/[^?#]*)?$/i.exec(spec);
  if (!m) throw bad(spec, setting, "it is not of the form s3://bucket[/prefix] (no query or fragment)");
  const authority = m[1]!;
  if (authority.includes("@")) {
    // Never echo what stands before "@": it is a key or a secret.
    throw new BatonError("STORAGE_URL", `${setting} carries credentials (s3://…@${authority.slice(authority.lastIndexOf("@") + 1)}…): a store URL names only the bucket and prefix`, {
      hint: "remove the credentials from the URL and give them to the step as AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or AWS_PROFILE, or an instance role)",
    });
  }
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(authority)) {
    throw bad(spec, setting, `"${authority}" is not a bucket name (3 to 63 lowercase letters, digits, dots and hyphens)`);
  }
  const prefix = (m[2] ?? "").replace(/^\/+|\/+$/g, "");
  if (prefix.split("/").some((part) => part === "" || part === "." || part === "..")) {
    if (prefix !== "") throw bad(spec, setting, "the prefix has an empty, \".\" or \"..\" segment");
  }
  return { bucket: authority, prefix };
}

function bad(spec: string, setting: string, why: string): BatonError {
  return new BatonError("STORAGE_URL", `${setting}=${JSON.stringify(spec)} is not a store Baton can use: ${why}`, {
    hint: `set ${setting} to ${SUPPORTED}`,
  });
}

/**
 * The storage credentials in this environment: redacted from events, logs and errors like resource
 * secrets. The access key id (16+ characters on AWS) only when it is long enough not to be an
 * ordinary word: redacting a test id such as "k" would garble every message.
 */
export function storageSecrets(env: Env): string[] {
  const id = env.AWS_ACCESS_KEY_ID ?? "";
  return [env.AWS_SECRET_ACCESS_KEY ?? "", env.AWS_SESSION_TOKEN ?? "", id.length >= 8 ? id : ""].filter((v) => v !== "");
}
