import { readFileSync } from "node:fs";
import { join } from "node:path";

/** What a step needs from `baton/build.json` next to the manifest (absent outside a build). */
export interface StepBuildInfo {
  readonly target: string | undefined;
  readonly storage: string | null;
}

export function readBuildInfo(manifestDir: string): StepBuildInfo | undefined {
  let data: { target?: unknown; storage?: unknown };
  try {
    data = JSON.parse(readFileSync(join(manifestDir, "build.json"), "utf8")) as typeof data;
  } catch {
    return undefined;
  }
  return {
    target: typeof data.target === "string" && /^[a-z][a-z0-9-]*$/.test(data.target) ? data.target : undefined,
    storage: typeof data.storage === "string" && data.storage !== "" ? data.storage : null,
  };
}

/**
 * The build's `--storage` becomes the step's BATON_STORAGE unless the worker set one: a worker's
 * BATON_STORAGE always wins (BUILD-CONTRACT.md).
 */
export function applyBuildStorage(manifestDir: string, env: NodeJS.ProcessEnv = process.env): void {
  const storage = readBuildInfo(manifestDir)?.storage;
  if (storage && !env.BATON_STORAGE) env.BATON_STORAGE = storage;
}
