import { createHash } from "node:crypto";

/**
 * The code version an asset gets when it declares none: the first 12 hex digits of the sha256 of
 * its compute's source text (`Function.prototype.toString`). Editing the compute changes it; a
 * change elsewhere (a helper it calls, a package upgrade) does not: declare `codeVersion` then.
 *
 * The text is what the loaded module holds, which is esbuild's output both when tsx runs the
 * TypeScript (`baton materialize`, `baton build`'s manifest) and when a step imports the bundle;
 * see the README ("Default code version") for when the two can differ.
 */
export function defaultCodeVersion(compute: (...args: never[]) => unknown): string {
  return createHash("sha256").update(normalizedSource(compute)).digest("hex").slice(0, 12);
}

/** The source with line endings and trailing spaces normalised (a checkout on Windows hashes the same). */
function normalizedSource(fn: (...args: never[]) => unknown): string {
  return Function.prototype.toString
    .call(fn)
    .replace(/\r\n?/g, "\n")
    .replace(/[ \t]+$/gm, "");
}
