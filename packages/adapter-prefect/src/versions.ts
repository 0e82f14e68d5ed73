import { BatonError, MANIFEST_VERSION } from "@baton/core";

/** Manifest versions this adapter (and the Python module it ships) can read. */
export const ACCEPTED_MANIFEST_VERSIONS: readonly number[] = [1];

/** The Prefect release the generated project and the Python module are written and tested for. */
export const PREFECT_VERSION = "3.9.1";

export function assertManifestVersion(version: number = MANIFEST_VERSION): void {
  if (!ACCEPTED_MANIFEST_VERSIONS.includes(version)) {
    throw new BatonError("MANIFEST", `manifest version ${version} is not one @baton/adapter-prefect can read (it reads ${ACCEPTED_MANIFEST_VERSIONS.join(", ")})`, {
      hint: `use a @baton/core that writes manifest version ${ACCEPTED_MANIFEST_VERSIONS.at(-1)}, or upgrade @baton/adapter-prefect`,
    });
  }
}
