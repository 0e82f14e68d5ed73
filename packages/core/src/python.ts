import { readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { BatonError } from "./errors.js";

/** Where `pnpm --filter @baton/core build` (scripts/build-wheel.mjs) writes the baton-core wheel. */
const wheelDir = fileURLToPath(new URL("../python/dist/", import.meta.url));

/**
 * The absolute path of the baton-core wheel this package ships: core copies it into every build's
 * `wheels/`. The build script keeps exactly one wheel in the folder, so more than one means a
 * stale or hand-made file.
 */
export function corePythonWheel(): string {
  const hint = "build @baton/core first: pnpm --filter @baton/core build";
  let files: string[];
  try {
    files = readdirSync(wheelDir);
  } catch {
    throw new BatonError("CONFIG", "the baton-core wheel is missing: no python/dist folder in @baton/core", { file: wheelDir, hint });
  }
  const wheels = files.filter((f) => /^baton_core-.+\.whl$/.test(f));
  if (wheels.length !== 1) {
    const found = wheels.length === 0 ? "no baton_core-*.whl" : `${wheels.length} wheels (${wheels.join(", ")})`;
    throw new BatonError("CONFIG", `expected one baton-core wheel, found ${found}`, { file: wheelDir, hint });
  }
  return join(wheelDir, wheels[0]!);
}

/**
 * The loose `baton_core` sources. Deprecated: the adapters still copy them into their outputs until
 * they install the wheel (`corePythonWheel()`); remove once no adapter imports this.
 */
export const corePythonModuleDir = fileURLToPath(new URL("../python/baton_core/", import.meta.url));
