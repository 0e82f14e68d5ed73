import { readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ensurePythonEnv, type PythonEnv } from "@baton/testing";
import { prefectWheel } from "../../adapter.js";

export const REQUIREMENTS = fileURLToPath(new URL("../../../python/requirements-test.txt", import.meta.url));

const require = createRequire(import.meta.url);

/** The folder of an installed package (its package.json's). */
export function packageDir(name: string): string {
  return dirname(require.resolve(`${name}/package.json`));
}

/** core's baton-core wheel (the one file python/dist holds). TODO: core's corePythonWheel() once @baton/core exports it. */
export function coreWheel(): string {
  const dir = join(packageDir("@baton/core"), "python", "dist");
  const wheels = readdirSync(dir).filter((f) => /^baton_core-.+\.whl$/.test(f));
  if (wheels.length !== 1) throw new Error(`expected one baton_core wheel in ${dir}, found ${wheels.join(", ") || "none"}; run pnpm --filter @baton/core build`);
  return join(dir, wheels[0]!);
}

/** The pinned Prefect virtual environment with the Baton wheels installed (made with uv on first use, then cached). */
export function prefectEnv(): PythonEnv {
  return ensurePythonEnv({ name: "prefect", requirements: REQUIREMENTS, wheels: [coreWheel(), prefectWheel()] });
}
