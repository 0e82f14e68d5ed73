import { createHash } from "node:crypto";
import { isBuiltin } from "node:module";
import { isAbsolute, join, resolve } from "node:path";
import { build, type Metafile } from "esbuild";
import { BatonError } from "../errors.js";
import { moduleHashOf } from "../manifest/hash.js";

/** The project's definitions compiled for a build: content-addressed, with its own source map. */
export interface CompiledModule {
  /** `definitions-<first 16 hex of sha256>.mjs`. */
  readonly fileName: string;
  /** The module's bytes (ending with the sourceMappingURL comment), as written. */
  readonly code: Uint8Array;
  /** `sha256:<hex>` of `code`: what manifest v2 records as `runtime.moduleHash`. */
  readonly moduleHash: string;
  readonly mapFileName: string;
  readonly map: string;
  /** Package names the bundle imports and leaves external (sorted, no Node builtins). */
  readonly packages: readonly string[];
}

/** How definitions are bundled, for builds and for `baton manifest`: packages stay external, ESM for Node 20. */
export const BUNDLE_OPTIONS = { bundle: true, packages: "external", format: "esm", platform: "node", target: "node20" } as const;

/**
 * Bundle the definitions with esbuild: the project's own files inlined, packages external (the
 * build copies them into runtime/node_modules). Nothing is written and nothing names a path
 * outside the project: absWorkingDir is the project root, the map's sources are project-relative.
 */
export async function compileModule(projectRoot: string, definitionsFile: string): Promise<CompiledModule> {
  const root = resolve(projectRoot);
  // A virtual outfile at the root: esbuild's comments and map sources are then relative to the root.
  const outfile = join(root, "definitions.mjs");
  let result;
  try {
    result = await build({
      entryPoints: [resolve(root, definitionsFile)],
      absWorkingDir: root,
      outfile,
      ...BUNDLE_OPTIONS,
      sourcemap: "external",
      sourcesContent: true,
      metafile: true,
      write: false,
      logLevel: "silent",
    });
  } catch (e) {
    const errors = (e as { errors?: { text: string; location?: { file: string; line: number } | null }[] }).errors ?? [];
    const lines = errors.map((m) => (m.location ? `${m.location.file}:${m.location.line}: ${m.text}` : m.text));
    throw new BatonError("INVALID_DEFINITION", `the definitions do not compile:\n    ${(lines.length ? lines : [(e as Error).message]).join("\n    ")}`, {
      file: definitionsFile,
      hint: "fix the TypeScript errors above (`baton validate` shows them with tsx too)",
    });
  }
  const js = result.outputFiles.find((f) => f.path.endsWith(".mjs"));
  const mapFile = result.outputFiles.find((f) => f.path.endsWith(".mjs.map"));
  if (!js || !mapFile) throw new Error(`esbuild wrote no module for ${definitionsFile}`);
  const map = portableMap(mapFile.text);
  const text = portableComments(js.text);
  const name = createHash("sha256").update(text).update("\0").update(map).digest("hex").slice(0, 16);
  const fileName = `definitions-${name}.mjs`;
  // Linked by hand (esbuild's "external" adds no comment): Node finds it next to the module.
  const code = Buffer.from(`${text}//# sourceMappingURL=${fileName}.map\n`);
  return { fileName, code, moduleHash: moduleHashOf(code), mapFileName: `${fileName}.map`, map, packages: externalPackages(result.metafile) };
}

/** A project-relative path without "..": a file above the root becomes `_up/…`. */
function portablePath(s: string): string {
  const parts = s.split(/[\\/]/).filter((p) => p !== "" && p !== ".");
  let up = 0;
  while (parts[up] === "..") up++;
  return [...(up ? ["_up"] : []), ...parts.slice(up).filter((p) => p !== "..")].join("/");
}

/** esbuild heads each bundled file with `// <path>`; a file above the root gets the map's `_up/…` name. */
function portableComments(js: string): string {
  return js.replace(/^\/\/ ((?:\.\.[\\/])+\S*)$/gm, (_, path: string) => `// ${portablePath(path)}`);
}

/** Map sources as project-relative paths without "..". */
function portableMap(text: string): string {
  const map = JSON.parse(text) as { sources: string[] };
  map.sources = map.sources.map(portablePath);
  return JSON.stringify(map);
}

/** The package names of the bundle's external imports: `@scope/name/sub` → `@scope/name`, `name/sub` → `name`. */
export function externalPackages(metafile: Metafile): string[] {
  const names = new Set<string>();
  for (const output of Object.values(metafile.outputs)) {
    for (const imp of output.imports) {
      if (!imp.external) continue;
      const name = packageName(imp.path);
      if (name) names.add(name);
    }
  }
  return [...names].sort();
}

export function packageName(specifier: string): string | undefined {
  if (isBuiltin(specifier) || specifier.startsWith(".") || specifier.startsWith("#") || isAbsolute(specifier) || /^[a-z][a-z0-9+.-]*:/i.test(specifier)) return undefined;
  const parts = specifier.split("/");
  if (specifier.startsWith("@")) return parts.length >= 2 && parts[1] ? `${parts[0]}/${parts[1]}` : undefined;
  return parts[0] || undefined;
}
