import { readFileSync } from "node:fs";
import { BatonError, type Manifest } from "@baton/core";

/** Manifest versions this adapter reads (the Python side declares the same in manifest.py). */
export const ACCEPTED_MANIFEST_VERSIONS: readonly number[] = [1];

export const READER_NAME = "@baton/adapter-dagster";

/**
 * The manifest as a step reads it: parsed and version-checked, not schema-validated again. The
 * build validated it, and compiling the JSON Schema costs ~0.4 s, paid on every Dagster step.
 */
export function readStepManifest(path: string): Manifest {
  let manifest: Manifest;
  try {
    manifest = JSON.parse(readFileSync(path, "utf8")) as Manifest;
  } catch (e) {
    throw new BatonError("MANIFEST", `cannot read the manifest: ${(e as Error).message}`, { file: path, hint: "rebuild it with `baton dagster build`" });
  }
  if (!ACCEPTED_MANIFEST_VERSIONS.includes(manifest.manifestVersion)) {
    throw new BatonError("MANIFEST", `manifest version ${String(manifest.manifestVersion)} is not one ${READER_NAME} can read (it reads ${ACCEPTED_MANIFEST_VERSIONS.join(", ")})`, {
      file: path,
      hint: `rebuild the project with \`baton dagster build\`, or upgrade ${READER_NAME}`,
    });
  }
  return manifest;
}
