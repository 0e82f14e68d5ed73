import { createRequire } from "node:module";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { corePythonWheel } from "@baton/core/build";
import { ensurePythonEnv, type PythonEnv } from "@baton/testing";
import { prefectWheel } from "../../adapter.js";

export const REQUIREMENTS = fileURLToPath(new URL("../../../python/requirements-test.txt", import.meta.url));

const require = createRequire(import.meta.url);

/** The folder of an installed package (its package.json's). */
export function packageDir(name: string): string {
  return dirname(require.resolve(`${name}/package.json`));
}


/** The pinned Prefect virtual environment with the Baton wheels installed (made with uv on first use, then cached). */
export function prefectEnv(): PythonEnv {
  return ensurePythonEnv({ name: "prefect", requirements: REQUIREMENTS, wheels: [corePythonWheel(), prefectWheel()] });
}
