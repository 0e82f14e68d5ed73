import { parseArgs } from "node:util";
import { isAbsolute, join, relative } from "node:path";
import type { AdapterCliContext } from "@baton/core";
import { buildDagsterProject } from "./build.js";

const USAGE = `baton dagster build --out DIR [--storage DIR]

  Writes a Dagster code location to DIR: manifest.json, definitions.py and the baton_dagster module.
  --out DIR      output folder (relative to the project root)
  --storage DIR  IO store for runs that do not set BATON_STORAGE (relative to DIR)`;

/** `baton dagster build --out DIR`. Returns the exit code. */
export async function run(args: readonly string[], context: AdapterCliContext): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    options: { out: { type: "string" }, storage: { type: "string" }, help: { type: "boolean", short: "h" } },
  });
  if (values.help) {
    context.out(USAGE);
    return 0;
  }
  if (positionals[0] !== "build" || !values.out) {
    context.err(USAGE);
    return 2;
  }
  const outDir = isAbsolute(values.out) ? values.out : join(context.projectRoot, values.out);
  const project = buildDagsterProject({
    definitions: context.defs,
    module: context.module,
    exportName: context.exportName,
    outDir,
    ...(values.storage !== undefined ? { storage: values.storage } : {}),
  });
  const m = project.manifest;
  const where = relative(context.projectRoot, outDir) || ".";
  context.out(`Dagster code location written to ${where}: ${m.assets.length} assets, ${m.schedules.length} schedules, ${m.sensors.length} sensors`);
  context.out(`  open it:  cd ${where} && dagster dev`);
  return 0;
}
