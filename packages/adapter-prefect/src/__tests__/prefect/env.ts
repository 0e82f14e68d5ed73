import { fileURLToPath } from "node:url";
import { ensurePythonEnv, type PythonEnv } from "@baton/testing";

export const REQUIREMENTS = fileURLToPath(new URL("../../../python/requirements-test.txt", import.meta.url));

/** The pinned Prefect virtual environment (created with uv on first use, then cached). */
export function prefectEnv(): PythonEnv {
  return ensurePythonEnv({ name: "prefect", requirements: REQUIREMENTS });
}
