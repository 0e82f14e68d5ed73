import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { ensureExtensions, EXTENSION_REQUIREMENTS } from "../extensions.js";

/** The extension binaries for tests, under BATON_VENV_ROOT (or .venvs), named by the pins' hash. */
export function testExtensions(): string {
  const root = resolve(process.env.BATON_VENV_ROOT ?? join(process.cwd(), ".venvs"));
  const hash = createHash("sha256").update(readFileSync(EXTENSION_REQUIREMENTS)).digest("hex").slice(0, 12);
  return ensureExtensions(join(root, `duckdb-extensions-${hash}`));
}
