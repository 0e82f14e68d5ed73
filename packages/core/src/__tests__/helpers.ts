import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "vitest";
import { BatonError, BatonValidationError } from "../errors.js";
import { manifestProblems } from "../manifest/read.js";
import type { Manifest } from "../manifest/types.js";
import type { StepEvent } from "../step/events.js";

/** A fresh temporary folder; `cleanupTempDirs()` (afterEach/afterAll) removes every one. */
const made: string[] = [];
export function tempDir(prefix = "baton-core-test-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}
export function cleanupTempDirs(): void {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** Every manifest the tests produce goes through here: it must validate against the published schema. */
export const validatedManifests: unknown[] = [];
export function expectValidManifest<M extends Manifest | unknown>(manifest: M): M {
  expect(manifestProblems(manifest)).toEqual([]);
  validatedManifests.push(manifest);
  return manifest;
}
/** Same, for manifest JSON text (CLI output, files written by `baton manifest --out`). */
export function expectValidManifestJson(text: string): Manifest {
  return expectValidManifest(JSON.parse(text) as Manifest);
}

/** The errors of a definitions() call that must fail. */
export function validationErrors(fn: () => unknown): readonly BatonError[] {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(BatonValidationError);
    return (e as BatonValidationError).errors;
  }
  throw new Error("expected a BatonValidationError, but nothing was thrown");
}

/** The one error of a definitions() call that must fail with exactly one problem. */
export function onlyValidationError(fn: () => unknown): BatonError {
  const errors = validationErrors(fn);
  expect(errors.map((e) => e.message)).toHaveLength(1);
  return errors[0]!;
}

/** The error a (sync or async) function throws. */
export async function thrown(fn: () => unknown): Promise<Error & Record<string, unknown>> {
  try {
    await fn();
  } catch (e) {
    return e as Error & Record<string, unknown>;
  }
  throw new Error("expected an error, but nothing was thrown");
}
export function thrownSync(fn: () => unknown): Error & Record<string, unknown> {
  try {
    fn();
  } catch (e) {
    return e as Error & Record<string, unknown>;
  }
  throw new Error("expected an error, but nothing was thrown");
}

/** Events of a step, with helpers to pick them by type. */
export function eventLog() {
  const events: StepEvent[] = [];
  return {
    events,
    onEvent: (e: StepEvent) => {
      events.push(e);
    },
    of<T extends StepEvent["type"]>(type: T): Extract<StepEvent, { type: T }>[] {
      return events.filter((e): e is Extract<StepEvent, { type: T }> => e.type === type);
    },
    types: () => events.map((e) => e.type),
  };
}


/** The BatonError a synchronous call throws; anything else thrown, or nothing, fails the test. */
export function caught(fn: () => unknown): BatonError {
  try {
    fn();
  } catch (e) {
    if (e instanceof BatonError) return e;
    throw e;
  }
  throw new Error("expected a BatonError");
}
