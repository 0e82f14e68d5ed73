import { ACCEPTED_MANIFEST_VERSIONS, readManifest, type Manifest } from "@baton/core";

export const READER_NAME = "@baton/adapter-dagster";

/** The manifest as a step reads it: parsed and version-checked (core's one list); the build validated the schema. */
export function readStepManifest(path: string): Manifest {
  return readManifest(path, ACCEPTED_MANIFEST_VERSIONS, READER_NAME, { schema: false });
}
