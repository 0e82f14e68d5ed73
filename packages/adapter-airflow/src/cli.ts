import { existsSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import type { AdapterCliContext } from "@baton/core";
import { buildAirflowDags } from "./build.js";
import type { AirflowResourceMapping } from "./options.js";

export const USAGE = `baton airflow — Baton definitions as Apache Airflow 3 DAGs

  baton airflow build --out DAGS_DIR [--storage DIR] [--resources FILE.json] [--dag-id-prefix P]

  Writes DAGS_DIR/baton_dags.py, DAGS_DIR/baton/{manifest,airflow}.json and DAGS_DIR/baton_airflow/.
  Options may also sit in package.json: "baton": { "airflow": { "resources": {...}, "storage": "...", "dagIdPrefix": "..." } }.
  --resources  JSON: { "<resource>": { "connection": "<conn id>", "fields": { "<field>": "host|login|password|schema|port|uri|extra.<key>" } }
                      | { "variable": "<key of a JSON Variable>" } }`;

interface ProjectOptions {
  resources?: AirflowResourceMapping;
  storage?: string;
  dagIdPrefix?: string;
}

function projectOptions(root: string): ProjectOptions {
  const path = join(root, "package.json");
  if (!existsSync(path)) return {};
  const pkg = JSON.parse(readFileSync(path, "utf8")) as { baton?: { airflow?: ProjectOptions } };
  return pkg.baton?.airflow ?? {};
}

export async function run(args: readonly string[], context: AdapterCliContext): Promise<number> {
  const [command, ...rest] = args;
  if (command !== "build") {
    (command === undefined || command === "--help" || command === "help" ? context.out : context.err)(USAGE);
    return command === undefined || command === "--help" || command === "help" ? 0 : 2;
  }
  let values: { out?: string; storage?: string; resources?: string; "dag-id-prefix"?: string };
  try {
    ({ values } = parseArgs({
      args: [...rest],
      options: { out: { type: "string" }, storage: { type: "string" }, resources: { type: "string" }, "dag-id-prefix": { type: "string" } },
    }));
  } catch (e) {
    context.err(`${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (!values.out) {
    context.err(`--out DAGS_DIR is required\n\n${USAGE}`);
    return 2;
  }
  const fromProject = projectOptions(context.projectRoot);
  const resources = values.resources ? (JSON.parse(readFileSync(resolve(values.resources), "utf8")) as AirflowResourceMapping) : fromProject.resources;
  const storage = values.storage ?? (fromProject.storage ? resolve(context.projectRoot, fromProject.storage) : undefined);
  try {
    const result = buildAirflowDags({
      definitions: context.defs,
      module: context.module,
      exportName: context.exportName,
      outDir: resolve(values.out),
      ...(resources ? { resources } : {}),
      ...(storage ? { storage } : {}),
      ...((values["dag-id-prefix"] ?? fromProject.dagIdPrefix) ? { dagIdPrefix: values["dag-id-prefix"] ?? fromProject.dagIdPrefix } : {}),
    });
    const where = relative(process.cwd(), result.dagFile) || result.dagFile;
    context.out(`wrote ${where} (${result.manifest.assets.length} assets) → DAGs ${result.dagIds.join(", ")}`);
    return 0;
  } catch (e) {
    context.err((e as Error).message);
    return 1;
  }
}
