import type { Manifest } from "@baton/core";
import { deploymentSpecs, MATERIALIZE_DEPLOYMENT } from "./deployments.js";
import type { PrefectOptions } from "./options.js";
import { assetUri, cursorVariable } from "./prefect-names.js";
import { BLOCK_DOCUMENT_NAME, resourceProblems } from "./resources.js";

/*
 * Prefect's rules that would otherwise break a build at `prefect deploy`, at the import of flows.py
 * or when a task first runs. Each is cited in prefect 3.9.1 as installed (site-packages/prefect/…).
 */

// types/names.py BANNED_CHARACTERS; flows.py Flow.__init__ and Flow.to_deployment call
// _raise_on_name_with_banned_characters on flow and deployment names (InvalidNameError).
const BANNED = ["/", "%", "&", ">", "<"];
// types/names.py RESTRICTED_ASSET_CHARACTERS and MAX_ASSET_KEY_LENGTH (validate_valid_asset_key): an
// Asset(key=…) with one of them fails when flows.py is imported.
const RESTRICTED_ASSET_CHARACTERS = ["\n", "\r", "\t", "\0", " ", "#", "?", "&", "%", '"', "'", "<", ">", "[", "]", "{", "}", "|", "\\", "^", "`"];
const MAX_ASSET_KEY_LENGTH = 512;
// types/names.py MAX_VARIABLE_NAME_LENGTH (VariableName): a sensor's cursor Variable.
const MAX_VARIABLE_NAME_LENGTH = 255;
// utilities/templating/__init__.py PLACEHOLDER_CAPTURE_REGEX: `prefect deploy` templates every string
// of a prefect.yaml deployment (cli/deploy/_core.py: apply_values with os.environ, then with the
// build steps' outputs), so "{{ x }}" in a name, description or parameter would be replaced or dropped.
// Tags have no rule in Prefect 3.9.1 (server/schemas/core.py: TaskRun.tags and Deployment.tags are
// List[str]): an asset's group and tags become its task's tags as they are; the deployments' tags
// are the adapter's own constants.
const PLACEHOLDER = /\{\{\s*[\w.\-[\]$]+\s*\}\}/;

const show = (s: string) => JSON.stringify(s);

function nameProblem(kind: string, name: string, where = ""): string | null {
  // types/names.py non_emptyish: a name of only spaces and quotes is empty.
  if (name.replace(/['" ]/g, "") === "") return `${kind} name ${show(name)}${where} is empty to Prefect; give it a name`;
  const banned = BANNED.filter((c) => name.includes(c));
  if (banned.length) return `${kind} name ${show(name)}${where} contains ${banned.join(" ")}, which Prefect forbids in names (${BANNED.join(" ")}); rename it`;
  return null;
}

/** Every Prefect rule the manifest and options break, each naming the asset, schedule, sensor or option. */
export function prefectProblems(manifest: Manifest, options: PrefectOptions): string[] {
  const { flowName } = options;
  const problems: string[] = [...resourceProblems(manifest, options.resources)];
  const push = (p: string | null) => p !== null && problems.push(p);

  push(nameProblem("flow", flowName, " (--flow-name, else the package name)"));
  push(nameProblem("work pool", options.workPool, " (--work-pool)"));
  // server/api/workers.py create_work_pool: 403 "Work pools starting with 'Prefect' are reserved for internal use."
  if (options.workPool.toLowerCase().startsWith("prefect")) problems.push(`work pool name ${show(options.workPool)} (--work-pool) starts with "prefect", which Prefect reserves for its own pools; choose another name`);
  if (PLACEHOLDER.test(options.workPool)) problems.push(`work pool name ${show(options.workPool)} (--work-pool) contains a Prefect template placeholder {{ … }}, which prefect deploy would replace; rename it`);

  if (options.storageSecret !== null && !BLOCK_DOCUMENT_NAME.test(options.storageSecret)) {
    problems.push(`storage secret ${show(options.storageSecret)} (--storage-secret) is not a block document name: Prefect block names are lowercase letters, digits and dashes, e.g. "baton-s3"`);
  }

  for (const s of manifest.schedules) push(nameProblem("deployment", s.name, ` (the schedule "${s.name}")`));
  for (const s of manifest.sensors) push(nameProblem("deployment", s.name, ` (the sensor "${s.name}")`));

  const specs = deploymentSpecs(manifest, flowName);
  const seen = new Map<string, string>();
  for (const d of specs) {
    const key = `${d.flow}/${d.name}`;
    if (seen.has(key)) problems.push(`two Prefect deployments of one flow would be named ${show(d.name)}; rename the schedule or sensor ("${MATERIALIZE_DEPLOYMENT}" and "<sensor>-runs" are the adapter's)`);
    seen.set(key, d.name);
    for (const [what, text] of [["name", d.name], ["description", d.description], ["parameters", JSON.stringify(d.parameters)]] as const) {
      if (PLACEHOLDER.test(text)) problems.push(`deployment ${show(d.name)}: its ${what} contains a Prefect template placeholder {{ … }}, which prefect deploy would replace or drop; reword it (e.g. without the double braces)`);
    }
  }

  for (const a of manifest.assets) {
    const key = assetUri(a.id);
    const bad = RESTRICTED_ASSET_CHARACTERS.filter((c) => key.includes(c));
    if (bad.length) problems.push(`asset "${a.id}": its Prefect asset key ${show(key)} contains ${bad.map((c) => JSON.stringify(c)).join(" ")}, which Prefect forbids in asset keys; rename the asset`);
    if (key.length > MAX_ASSET_KEY_LENGTH) problems.push(`asset "${a.id}": its Prefect asset key is ${key.length} characters, more than Prefect's ${MAX_ASSET_KEY_LENGTH}; shorten the asset key`);
  }
  for (const s of manifest.sensors) {
    const variable = cursorVariable(flowName, s.name);
    if (variable.length > MAX_VARIABLE_NAME_LENGTH) problems.push(`sensor "${s.name}": its cursor Variable "${variable}" is longer than Prefect's ${MAX_VARIABLE_NAME_LENGTH} characters; shorten the sensor or flow name`);
  }
  return problems;
}
