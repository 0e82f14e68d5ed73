import { readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { BatonError } from "./errors.js";

/**
 * The one wheel of `module` (e.g. "baton_dagster") that an npm package ships in `wheelDir` (its
 * python/dist, written by its build script: scripts/build-wheel.mjs keeps exactly one there, so
 * more than one means a stale or hand-made file). `npmName` goes into the fix.
 */
export function shippedWheel(wheelDir: string, module: string, npmName: string): string {
  const hint = `build ${npmName} first: pnpm --filter ${npmName} build`;
  let files: string[];
  try {
    files = readdirSync(wheelDir);
  } catch {
    throw new BatonError("CONFIG", `the ${module} wheel is missing: ${npmName} has no python/dist folder`, { file: wheelDir, hint });
  }
  const wheels = files.filter((f) => f.startsWith(`${module}-`) && f.endsWith(".whl"));
  if (wheels.length !== 1) {
    const found = wheels.length === 0 ? `no ${module}-*.whl` : `${wheels.length} wheels (${wheels.join(", ")})`;
    throw new BatonError("CONFIG", `expected one ${module} wheel in ${npmName}, found ${found}`, { file: wheelDir, hint });
  }
  return join(wheelDir, wheels[0]!);
}

/** The baton-core wheel this package ships: core copies it into every build's `wheels/`. */
export function corePythonWheel(): string {
  return shippedWheel(fileURLToPath(new URL("../python/dist/", import.meta.url)), "baton_core", "@baton/core");
}
