import { dirname, sep } from "node:path";
import { fileURLToPath } from "node:url";

/** Core's own compiled or source folder (`…/core/dist` or `…/core/src`): its frames are not the caller. */
const CORE_DIR = dirname(fileURLToPath(import.meta.url)) + sep;
const TEST_FILE = /\.(test|spec)\.[cm]?[jt]sx?$/;

/** The user file that called a Baton constructor, from the stack; used only in error messages. */
export function callerFile(): string | undefined {
  const stack = new Error().stack?.split("\n").slice(1) ?? [];
  for (const line of stack) {
    const m = /\(?((?:file:\/\/)?\/[^():]+):\d+:\d+\)?\s*$/.exec(line);
    const raw = m?.[1];
    if (!raw) continue;
    const path = raw.startsWith("file://") ? fileURLToPath(raw) : raw;
    // Core's own files are skipped, except its tests, which declare assets like any user file.
    if (path.startsWith(CORE_DIR) && !TEST_FILE.test(path)) continue;
    if (path.includes("/@baton/core/") || path.includes("/node_modules/")) continue;
    return path;
  }
  return undefined;
}
