import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { build } from "esbuild";
import type { Definitions } from "../definitions.js";
import { manifestToJson, toManifest } from "../manifest/build.js";
import { BUNDLE_OPTIONS } from "../build/runtime.js";
import type { Project } from "./project.js";

/**
 * For `baton manifest` (inspection and local tools) only: the definitions bundled into one ESM file
 * inside the project (so its node_modules still resolve), packages left external. Builds never use
 * this shared file: `baton <target> build` writes its own content-addressed module (build/runtime.ts).
 */
export async function compileDefinitions(project: Project): Promise<string> {
  const outfile = join(project.root, ".baton", "build", "definitions.mjs");
  await build({
    entryPoints: [project.definitions],
    outfile,
    ...BUNDLE_OPTIONS,
    sourcemap: "linked",
    logLevel: "error",
  });
  return outfile;
}

/** Compile the definitions and write the manifest that points at them. */
export async function writeManifest(project: Project, defs: Definitions, outFile: string): Promise<string> {
  const module = await compileDefinitions(project);
  const target = resolve(outFile);
  const json = manifestToJson(toManifest(defs, { module, exportName: project.exportName, manifestDir: dirname(target), projectRoot: project.root }));
  await mkdir(dirname(target), { recursive: true });
  await writeFile(target, json);
  return target;
}
