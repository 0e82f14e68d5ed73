import { posix } from "node:path";
import { BatonError } from "../errors.js";

/**
 * A StorageClient path as the key both backends use: "/"-separated, relative to the client's root,
 * normalised ("a/./b" is "a/b"). The same path names the same object on a folder and on S3, so a
 * path that leaves the root, is absolute, empty or names a folder is refused on both.
 */
export function storageKey(path: string, root: string): string {
  const key = posix.normalize(path.replaceAll("\\", "/"));
  const why =
    path === "" ? "it is empty"
    : key.startsWith("/") ? "it is absolute"
    : key === ".." || key.startsWith("../") ? "it leaves the storage root"
    : key === "." || key.endsWith("/") ? "it names a folder, not an object"
    : undefined;
  if (why !== undefined) {
    throw new BatonError("CONFIG", `StorageClient path ${JSON.stringify(path)} cannot be used: ${why} (storage root ${root})`, {
      hint: 'use a path relative to the storage root that names a file, e.g. "reports/daily.parquet"',
    });
  }
  return key;
}
