import { pinnedDir } from "@baton/testing";
import { readFileSync } from "node:fs";
import { ensureExtensions, EXTENSION_REQUIREMENTS } from "../extensions.js";

/** The extension binaries for tests, under BATON_VENV_ROOT (or .venvs), named by the pins' hash. */
export function testExtensions(): string {
  return ensureExtensions(pinnedDir("duckdb-extensions", [readFileSync(EXTENSION_REQUIREMENTS)]));
}
