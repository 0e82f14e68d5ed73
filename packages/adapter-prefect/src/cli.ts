import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import type { AdapterCliContext } from "@baton/core";
import { buildPrefectProject } from "./build.js";
import { serveLocally } from "./dev.js";
import type { PrefectResources } from "./resources.js";

const USAGE = `usage: baton prefect build --out DIR [--flow-name NAME] [--resources FILE.json] [--storage DIR] [--work-pool NAME]
       baton prefect dev   --out DIR [build options] [--python PYTHON] [--port 4200]

  build  writes a Prefect 3 project: baton-manifest.json, the baton_prefect module, flows.py and prefect.yaml.
  dev    builds, then starts a local Prefect server and serves every deployment (PYTHON needs prefect==3.9.1).
  Options may also live in package.json under "baton": { "prefect": { "flowName", "resources", "storage", "workPool" } }.
  Then, in DIR:  python flows.py   (serves every deployment against PREFECT_API_URL)
`;

interface PackageOptions {
  flowName?: string;
  resources?: PrefectResources;
  storage?: string;
  workPool?: string;
}

function packageOptions(projectRoot: string): { name: string | undefined; prefect: PackageOptions } {
  try {
    const pkg = JSON.parse(readFileSync(join(projectRoot, "package.json"), "utf8")) as { name?: string; baton?: { prefect?: PackageOptions } };
    return { name: pkg.name, prefect: pkg.baton?.prefect ?? {} };
  } catch {
    return { name: undefined, prefect: {} };
  }
}

/** `baton prefect build --out DIR`: exit code 0 on success, 1 on a build error, 2 on bad usage. */
export async function run(args: readonly string[], context: AdapterCliContext): Promise<number> {
  const [command, ...rest] = args;
  if (command === undefined || command === "--help" || command === "-h" || command === "help") {
    context.out(USAGE);
    return command === undefined ? 2 : 0;
  }
  if (command !== "build" && command !== "dev") {
    context.err(`unknown command "prefect ${command}"\n${USAGE}`);
    return 2;
  }
  let values: { out?: string; "flow-name"?: string; resources?: string; storage?: string; "work-pool"?: string; python?: string; port?: string };
  try {
    ({ values } = parseArgs({
      args: [...rest],
      options: { out: { type: "string" }, "flow-name": { type: "string" }, resources: { type: "string" }, storage: { type: "string" }, "work-pool": { type: "string" }, python: { type: "string" }, port: { type: "string" } },
    }));
  } catch (e) {
    context.err(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (!values.out) {
    context.err(`--out is required\n${USAGE}`);
    return 2;
  }
  try {
    const pkg = packageOptions(context.projectRoot);
    const resources = values.resources
      ? (JSON.parse(readFileSync(resolve(context.projectRoot, values.resources), "utf8")) as PrefectResources)
      : pkg.prefect.resources;
    const storage = values.storage ?? pkg.prefect.storage;
    const project = buildPrefectProject({
      definitions: context.defs,
      module: context.module,
      exportName: context.exportName,
      outDir: resolve(context.projectRoot, values.out),
      flowName: values["flow-name"] ?? pkg.prefect.flowName ?? pkg.name?.replace(/^@[^/]+\//, "") ?? "baton",
      ...(resources ? { resources } : {}),
      ...(storage ? { storage: resolve(context.projectRoot, storage) } : {}),
      ...((values["work-pool"] ?? pkg.prefect.workPool) ? { workPool: values["work-pool"] ?? pkg.prefect.workPool } : {}),
    });
    context.out(
      `Prefect project written to ${project.outDir}\n` +
        `  flows: ${project.flowName} (${project.manifest.assets.length} assets), ${project.flowName}-sensors\n` +
        `  deployments: ${project.deployments.map((d) => d.name).join(", ")}\n` +
        `  serve them: cd ${project.outDir} && python flows.py\n`,
    );
    if (command === "build") return 0;
    const python = values.python ?? process.env.BATON_PREFECT_PYTHON ?? "python3";
    return await serveLocally({ projectDir: project.outDir, python, port: Number(values.port ?? 4200), log: context.out });
  } catch (e) {
    context.err(`${(e as Error).message}\n`);
    return 1;
  }
}
