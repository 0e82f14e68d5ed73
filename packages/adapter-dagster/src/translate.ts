/**
 * What does not translate to Dagster, found at build time (never at 3 a.m.): every problem
 * names the definition and the rule Dagster enforces.
 */
import type { Manifest } from "@baton/core";
import { planBuckets, standaloneChecks } from "./plan.js";

/** `VALID_NAME_REGEX` in dagster 1.13.28 `_core/definitions/utils.py` (ops, checks, schedules, sensors, resource keys). */
const NAME = /^[A-Za-z0-9_]+$/;
/**
 * `DISALLOWED_NAMES` in the same file: `check_valid_name` refuses them for op and output names
 * (node_definition.py, output.py) and schedule and sensor names (schedule_definition.py,
 * sensor_definition.py). Python 3.11's `keyword.kwlist` is part of it.
 */
const DISALLOWED = new Set([
  ...["context", "conf", "config", "meta", "arg_dict", "dict", "input_arg_dict", "output_arg_dict", "int", "str", "float", "bool", "input", "output", "type"],
  ...["False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del", "elif", "else", "except"],
  ...["finally", "for", "from", "global", "if", "import", "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while", "with", "yield"],
]);
const KEY_PART = /^[A-Za-z0-9_.-]+$/;
/** `VALID_STRICT_TAG_VALUE_REGEX` and (without its nested namespaces) `VALID_TAG_KEY_REGEX` in dagster 1.13.28 `_utils/tags.py`. */
const TAG = /^[A-Za-z0-9_.-]{0,63}$/;
const TAG_KEY = /^([A-Za-z0-9_.-]+\/)?[A-Za-z0-9_.-]{1,63}$/;
/**
 * What Dagster refuses in a partition key: `INVALID_PARTITION_SUBSTRINGS` in dagster 1.13.28
 * `_core/definitions/partitions/utils/base.py` (raised by `StaticPartitionsDefinition`): the code
 * location would not load.
 */
const PARTITION_KEY_FORBIDDEN = ["...", "\u0007", "\b", "\f", "\n", "\r", "\t", "\v", "\u0000"] as const;
/**
 * Dagster's owner rule: `is_valid_owner` in dagster 1.13.28 `_core/definitions/utils.py` (an email
 * by `_core/utils.py` `is_valid_email`'s regex, used with `re.fullmatch`, or "team:" and a name),
 * checked by `AssetSpec` (`validate_asset_owner`) when the code location loads.
 */
const EMAIL = /^\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Z|a-z]{2,7}\b$/;
const SHOWN: Record<string, string> = { "\u0007": "\\a", "\b": "\\b", "\f": "\\f", "\n": "a newline", "\r": "\\r", "\t": "a tab", "\v": "\\v", "\u0000": "\\0" };

/** Why Dagster refuses this partition key, or null. */
export function partitionKeyProblem(key: string): string | null {
  const found = PARTITION_KEY_FORBIDDEN.filter((s) => key.includes(s));
  if (found.length === 0) return null;
  return `partition key ${JSON.stringify(key)} contains ${found.map((s) => SHOWN[s] ?? `"${s}"`).join(", ")}, which Dagster does not allow in a partition key`;
}

/** Why Dagster refuses this owner, or null. */
export function ownerProblem(owner: string): string | null {
  if (EMAIL.test(owner) || (owner.startsWith("team:") && owner.length > 5)) return null;
  if (owner.startsWith("team:")) return `owner "team:" has no team name after "team:"`;
  return `owner ${JSON.stringify(owner)} is neither an email address nor a team ("team:<name>"), the only owners Dagster accepts`;
}

export function dagsterProblems(manifest: Manifest): string[] {
  const problems: string[] = [];
  const name = (what: string, value: string, checked = false) => {
    if (!NAME.test(value)) problems.push(`${what} "${value}": Dagster names allow only letters, digits and "_"`);
    else if (checked && DISALLOWED.has(value)) problems.push(`${what} "${value}": a name Dagster reserves (a Python keyword or one of its own); rename it`);
  };
  for (const a of manifest.assets) {
    // The multi-asset's output for the asset is named after its key (AssetKey.to_python_identifier).
    const output = a.key.join("__").replace(/[^A-Za-z0-9_]/g, "_");
    if (DISALLOWED.has(output)) problems.push(`asset "${a.id}": its Dagster output name "${output}" is a name Dagster reserves (a Python keyword or one of its own); rename the key`);
    for (const part of a.key) if (!KEY_PART.test(part)) problems.push(`asset "${a.id}": key part "${part}" must use only letters, digits, "_", "-" and "."`);
    name(`asset "${a.id}": group`, a.group);
    for (const owner of a.owners) {
      const problem = ownerProblem(owner);
      if (problem) problems.push(`asset "${a.id}": ${problem}`);
    }
    for (const c of a.checks) name(`asset "${a.id}": check`, c.name);
    if (a.partitions?.type === "static") {
      for (const key of a.partitions.keys) {
        const problem = partitionKeyProblem(key);
        if (problem) problems.push(`asset "${a.id}": ${problem}`);
      }
    }
    for (const [k, v] of Object.entries(a.tags)) {
      if (!TAG_KEY.test(k) || !TAG.test(v)) problems.push(`asset "${a.id}": tag ${k}=${v} must use only letters, digits, "_", "-" and "." (63 characters at most)`);
    }
  }
  for (const r of manifest.resources) name("resource", r.key);
  for (const s of manifest.schedules) {
    name("schedule", s.name, true);
    if (s.partitions && !s.partition) problems.push(`schedule "${s.name}": its targets are partitioned but it names no partition to run`);
    if (s.partition?.type === "static") {
      const problem = partitionKeyProblem(s.partition.key);
      if (problem) problems.push(`schedule "${s.name}": ${problem}`);
    }
    if (s.partitions?.type === "static" && s.partition?.type === "lastComplete") {
      problems.push(`schedule "${s.name}": static partitions have no "last complete" window; give the schedule partition: { type: "static", key }`);
    }
  }
  for (const s of manifest.sensors) name("sensor", s.name, true);
  if (problems.length === 0) {
    // The multi-asset (op) names come from the groups: "type" or "class" would not load.
    const ops = new Map<string, string>();
    for (const b of planBuckets(manifest)) {
      if (DISALLOWED.has(b.name)) problems.push(`assets ${b.assets.map((a) => `"${a.id}"`).join(", ")}: their Dagster op would be named "${b.name}", a name Dagster reserves; rename the group`);
      ops.set(b.name, `the op of group "${b.assets[0]!.group}"`);
    }
    // A standalone check's op is named `<key>_<check>`, as @dg.asset_check names it: two ops of one name would not load.
    for (const { asset, check, op } of standaloneChecks(manifest)) {
      const taken = ops.get(op);
      if (taken) problems.push(`asset "${asset.id}": check "${check.name}": its Dagster op would be named "${op}", as is ${taken}; rename the check`);
      else if (DISALLOWED.has(op)) problems.push(`asset "${asset.id}": check "${check.name}": its Dagster op would be named "${op}", a name Dagster reserves; rename the check`);
      ops.set(op, `the op of check "${asset.id}:${check.name}"`);
    }
  }
  return problems;
}
