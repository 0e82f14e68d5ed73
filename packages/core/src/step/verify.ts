import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { BatonError } from "../errors.js";
import { moduleHashOf } from "../manifest/hash.js";
import type { Manifest } from "../manifest/types.js";
import { readBuildInfo } from "./build-info.js";

/**
 * Refuse to run definitions that are not the ones the manifest was built from: hashes
 * `runtime.module` (relative to the manifest's folder) and compares it with `runtime.moduleHash`.
 * Throws BatonError("MANIFEST") naming the module file; the step exits 3 (a retry cannot help).
 * Synchronous on purpose: it runs before the definitions are imported (~0.2 ms for a 110 kB module).
 */
export function verifyModule(manifest: Manifest, manifestPath: string): void {
  const dir = dirname(resolve(manifestPath));
  const modulePath = resolve(dir, manifest.runtime.module);
  // Only on failure: the target in build.json names the exact command.
  const hint = () => `rebuild with \`baton ${readBuildInfo(dir)?.target ?? "<target>"} build\` and deploy the new folder as a whole`;
  let bytes: Buffer;
  try {
    bytes = readFileSync(modulePath);
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === "ENOENT" ? "is missing" : `cannot be read (${(e as Error).message})`;
    throw new BatonError("MANIFEST", `the definitions module the manifest names ${why}`, { file: modulePath, hint: hint() });
  }
  const actual = moduleHashOf(bytes);
  if (actual !== manifest.runtime.moduleHash) {
    throw new BatonError("MANIFEST", `the definitions module changed since the build: its hash is ${actual}, the manifest records ${manifest.runtime.moduleHash}`, {
      file: modulePath,
      hint: hint(),
    });
  }
}
