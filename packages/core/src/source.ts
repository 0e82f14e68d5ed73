import { dirname, join, sep } from "node:path";
import { findSourceMap } from "node:module";
import { fileURLToPath } from "node:url";

/**
 * Core's own code, compiled (`…/core/dist/`) or source (`…/core/src/`): its frames are not the
 * caller. Both are skipped whichever one this module runs from: under tsx, or with source maps on,
 * frames of the compiled core are reported at their `src/` sources.
 */
const CORE_ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const CORE_DIRS = [join(CORE_ROOT, "src") + sep, join(CORE_ROOT, "dist") + sep];
const TEST_FILE = /\.(test|spec)\.[cm]?[jt]sx?$/;
/** `at fn (/abs/file.ts:12:3)` or `at file:///abs/file.ts:12:3`: the file, line and column. */
const FRAME = /(?:\(|at )((?:file:\/\/)?\/[^():]+):(\d+):(\d+)\)?\s*$/;

/** Where a Baton constructor was called from in the user's code. */
export interface CallerLocation {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

function isCore(path: string): boolean {
  // Core's own files are skipped, except its tests, which declare assets like any user file.
  if (CORE_DIRS.some((d) => path.startsWith(d)) && !TEST_FILE.test(path)) return true;
  return path.includes(`${sep}@baton${sep}core${sep}`) || path.includes(`${sep}node_modules${sep}`) || path.startsWith("node:");
}

function toPath(name: string): string | undefined {
  // tsx and other loaders may add a query (`?tsx-namespace=…`) to a module's URL.
  const url = name.replace(/[?#].*$/, "");
  try {
    return url.startsWith("file://") ? fileURLToPath(url) : url.startsWith("/") ? url : undefined;
  } catch {
    return undefined;
  }
}

/** A frame at its original source, through the module's source map when Node has one cached. */
function original(name: string, line: number, column: number): CallerLocation | undefined {
  const entry = findSourceMap(name)?.findEntry(line - 1, column - 1) as { originalSource?: string; originalLine?: number; originalColumn?: number } | undefined;
  if (entry?.originalSource && entry.originalLine !== undefined) {
    const file = toPath(entry.originalSource);
    if (file) return { file, line: entry.originalLine + 1, column: (entry.originalColumn ?? 0) + 1 };
  }
  const file = toPath(name);
  return file ? { file, line, column } : undefined;
}

/**
 * The first frame of the current stack (or of `stack`, an `Error.stack` text) outside core and
 * node_modules. The live stack is read as call sites and only the frame found is source-mapped:
 * formatting whole stacks with source maps on costs ~0.1 ms per asset declared.
 */
export function callerLocation(stack?: string): CallerLocation | undefined {
  if (stack !== undefined) return fromText(stack);
  const previous = Error.prepareStackTrace;
  let sites: NodeJS.CallSite[] = [];
  const holder: { stack?: unknown } = {};
  try {
    Error.prepareStackTrace = (_error, callSites) => {
      sites = callSites;
      return "";
    };
    Error.captureStackTrace(holder, callerLocation);
    void holder.stack;
  } finally {
    Error.prepareStackTrace = previous;
  }
  for (const site of sites) {
    const name = site.getFileName() ?? site.getScriptNameOrSourceURL();
    const line = site.getLineNumber();
    const column = site.getColumnNumber();
    if (!name || line === null || column === null) continue;
    const rawPath = toPath(name);
    if (!rawPath || isCore(rawPath)) continue;
    const location = original(name, line, column);
    if (location && !isCore(location.file)) return location;
  }
  return undefined;
}

function fromText(stack: string): CallerLocation | undefined {
  // The first line is the message (which may span lines); frames start with "at".
  for (const line of stack.split("\n").filter((l) => /^\s+at /.test(l))) {
    const m = FRAME.exec(line);
    const path = m?.[1] ? toPath(m[1]) : undefined;
    if (!path || isCore(path)) continue;
    return { file: path, line: Number(m![2]), column: Number(m![3]) };
  }
  return undefined;
}

/** The user file that called a Baton constructor, from the stack; used only in error messages. */
export function callerFile(): string | undefined {
  return callerLocation()?.file;
}

/**
 * Report stack traces at their TypeScript sources: the compiled definitions (`.baton/build/
 * definitions.mjs`) carry a linked source map, so errors, `asset.file` and a crash inside compute
 * name the user's `.ts` file and line. Only modules loaded afterwards are mapped, so call it before
 * importing them (`loadDefinitions` does). Idempotent; a no-op where Node lacks the switch.
 */
export function enableSourceMaps(): void {
  const p = process as NodeJS.Process & { setSourceMapsEnabled?: (enabled: boolean) => void; sourceMapsEnabled?: boolean };
  if (p.sourceMapsEnabled === true) return;
  p.setSourceMapsEnabled?.(true);
}

/**
 * Run `load` (an import) with source maps off: Node reads the source map of every module loaded
 * while they are on, which for a library shipping many (apache-arrow: 470 files) adds their I/O and
 * ~15 ms of CPU to a step that needs the library. Core's lazy imports of such libraries go through here.
 */
export async function withoutSourceMaps<T>(load: () => Promise<T>): Promise<T> {
  const p = process as NodeJS.Process & { setSourceMapsEnabled?: (enabled: boolean) => void; sourceMapsEnabled?: boolean };
  if (p.sourceMapsEnabled !== true || !p.setSourceMapsEnabled) return load();
  p.setSourceMapsEnabled(false);
  try {
    return await load();
  } finally {
    p.setSourceMapsEnabled(true);
  }
}

const EXPLAINED = new Set(["BatonError", "BatonValidationError", "BatonStorageError"]);

/**
 * Where in the user's code an error was thrown, as `file:line:column`, for a one-line report of a
 * crash inside compute (e.g. a destructuring typo). Undefined for Baton's own errors, whose message
 * already names the asset and file, and when no frame of the stack is the user's.
 */
export function userFrameOf(error: { readonly name?: string; readonly stack?: string | undefined }): string | undefined {
  if (error.name !== undefined && EXPLAINED.has(error.name)) return undefined;
  const at = error.stack === undefined ? undefined : fromText(error.stack);
  return at && `${at.file}:${at.line}:${at.column}`;
}

/** Where an asset, schedule or sensor was declared, for messages: `file:line` (an editor opens it there), or the file alone. */
export function declaredAt(a: { readonly file: string | undefined; readonly line?: number | undefined }): string | undefined {
  return a.file !== undefined && a.line !== undefined ? `${a.file}:${a.line}` : a.file;
}
