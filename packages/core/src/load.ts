import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { isDefinitions, type Definitions } from "./definitions.js";
import { BatonError } from "./errors.js";
import { enableSourceMaps } from "./source.js";

/**
 * Import a module and take its definitions export. TypeScript sources load through tsx so local
 * work needs no build step; orchestrated runs import the compiled JavaScript.
 */
export async function loadDefinitions(modulePath: string, exportName = "default"): Promise<Definitions> {
  // Before the import: the compiled definitions' source map is read when the module loads, so
  // errors and asset.file name the user's .ts file and line rather than .baton/build/definitions.mjs.
  enableSourceMaps();
  const path = resolve(modulePath);
  if (!existsSync(path)) {
    throw new BatonError("CONFIG", `the definitions module does not exist`, { file: path, hint: "check the path (package.json \"baton.definitions\" or --definitions)" });
  }
  let mod: Record<string, unknown>;
  if (/\.[mc]?ts$/.test(path)) {
    const { tsImport } = await import("tsx/esm/api");
    mod = (await tsImport(pathToFileURL(path).href, import.meta.url)) as Record<string, unknown>;
  } else {
    mod = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  }
  // tsx may wrap a default export once more when it loads a module as CommonJS.
  const value = mod[exportName] ?? (exportName === "default" ? undefined : (mod.default as Record<string, unknown> | undefined)?.[exportName]);
  const defs = isDefinitions(value) ? value : isDefinitions((value as { default?: unknown } | undefined)?.default) ? (value as { default: Definitions }).default : undefined;
  if (!defs) {
    throw new BatonError("CONFIG", `the module has no Baton definitions in its export "${exportName}"`, {
      file: path,
      hint: `export the result of definitions({...}) as ${exportName === "default" ? "the default export" : `"${exportName}"`}`,
    });
  }
  return defs;
}
