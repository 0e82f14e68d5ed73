import { MANIFEST_VERSION } from "@baton/core";

/** Manifest versions this adapter (TypeScript and its Python module) can read. Keep in step with python/baton_airflow/manifest.py. */
export const ACCEPTED_MANIFEST_VERSIONS: readonly number[] = [1];

/** Refuse a core that writes a manifest version the Python side cannot read, at build time. */
export function assertManifestVersion(version: number = MANIFEST_VERSION): void {
  if (!ACCEPTED_MANIFEST_VERSIONS.includes(version)) {
    throw new Error(
      `@baton/core writes manifest version ${version}, but @baton/adapter-airflow reads version ${ACCEPTED_MANIFEST_VERSIONS.join(", ")}; ` +
        `install matching versions of @baton/core and @baton/adapter-airflow`,
    );
  }
}
