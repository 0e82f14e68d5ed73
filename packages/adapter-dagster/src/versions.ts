import { readManifest, type Manifest } from "@baton/core";

/** Manifest versions this adapter reads (the Python side declares the same in manifest.py). */
export const ACCEPTED_MANIFEST_VERSIONS: readonly number[] = [1];

export const READER_NAME = "@baton/adapter-dagster";

/** The manifest as a step reads it: parsed and version-checked; the build validated the schema. */
export function readStepManifest(path: string): Manifest {
  return readManifest(path, ACCEPTED_MANIFEST_VERSIONS, READER_NAME, { schema: false });
}
