import { fileURLToPath } from "node:url";

/** The user file that called a Baton constructor, from the stack; used only in error messages. */
export function callerFile(): string | undefined {
  const stack = new Error().stack?.split("\n").slice(1) ?? [];
  for (const line of stack) {
    const m = /\(?((?:file:\/\/)?\/[^():]+):\d+:\d+\)?\s*$/.exec(line);
    const raw = m?.[1];
    if (!raw) continue;
    const path = raw.startsWith("file://") ? fileURLToPath(raw) : raw;
    if (/[\\/]packages[\\/]core[\\/](dist|src)[\\/]/.test(path) || path.includes("/@baton/core/")) continue;
    if (path.includes("/node_modules/")) continue;
    return path;
  }
  return undefined;
}
