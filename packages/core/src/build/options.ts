import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { BatonError } from "../errors.js";
import type { AdapterOption, BatonAdapter } from "./contract.js";

/** A command line core cannot parse (unknown flag, missing value): the CLI prints usage and exits 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** `--dag-prefix` → `dagPrefix`. */
export const camelCase = (flag: string) => flag.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());

export interface ParsedTargetArgs {
  /** Core's own flags (`out`, `storage`, `json`, `definitions`…) as given. */
  readonly common: Readonly<Record<string, string | boolean | undefined>>;
  /** The adapter's flags, by camelCase option key. */
  readonly flags: Readonly<Record<string, string | boolean>>;
  /** Positionals, and with `passThrough` the unknown flags too, in their order. */
  readonly rest: readonly string[];
}

type CommonOptions = Readonly<Record<string, { type: "string" | "boolean" }>>;

/**
 * Split `baton <target> <command>` arguments into core's flags, the adapter's (declared in
 * `adapter.options`) and the rest. Unknown flags are a usage error unless `passThrough` (an adapter
 * command gets them in `args`).
 */
export function parseTargetArgs(adapter: Pick<BatonAdapter<unknown>, "name" | "options">, args: readonly string[], common: CommonOptions, passThrough = false): ParsedTargetArgs {
  const options: Record<string, { type: "string" | "boolean" }> = { ...common };
  for (const [flag, o] of Object.entries(adapter.options)) {
    if (flag in common) throw new Error(`adapter ${adapter.name} declares --${flag}, which is one of core's flags`);
    options[flag] = { type: o.type };
  }
  let tokens;
  try {
    ({ tokens } = parseArgs({ args: [...args], options, allowPositionals: true, strict: !passThrough, tokens: true }));
  } catch (e) {
    const known = Object.keys(options).map((f) => `--${f}`).join(", ");
    throw new UsageError(`${(e as Error).message} (flags for baton ${adapter.name}: ${known})`);
  }
  const commonValues: Record<string, string | boolean | undefined> = {};
  const flags: Record<string, string | boolean> = {};
  const rest: string[] = [];
  for (const t of tokens) {
    if (t.kind === "positional") rest.push(t.value);
    else if (t.kind === "option-terminator") rest.push("--");
    else if (!(t.name in options)) rest.push(t.inlineValue ? `${t.rawName}=${t.value}` : t.rawName);
    else {
      if (options[t.name]!.type === "string" && t.value === undefined) throw new UsageError(`option --${t.name} needs a value`);
      const value = options[t.name]!.type === "boolean" ? true : t.value!;
      if (t.name in common) commonValues[t.name] = value;
      else flags[camelCase(t.name)] = value;
    }
  }
  return { common: commonValues, flags, rest };
}

/**
 * The adapter's raw option values: flags over package.json `"baton": { "<target>": { … } }`
 * (keys camelCase or the flag's kebab-case), `jsonFile` options read and parsed relative to the
 * project root. What the adapter's `resolveOptions` receives. Errors name the file.
 */
export function rawTargetOptions(adapter: Pick<BatonAdapter<unknown>, "name" | "options">, projectRoot: string, flags: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const byKey = new Map<string, [string, AdapterOption]>(Object.entries(adapter.options).map(([flag, o]) => [camelCase(flag), [flag, o]]));
  const pkgPath = join(projectRoot, "package.json");
  const fromPackage = packageOptions(pkgPath, adapter.name);
  const raw: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fromPackage)) {
    const k = camelCase(key);
    if (!byKey.has(k)) {
      throw new BatonError("CONFIG", `package.json "baton.${adapter.name}" has an unknown option "${key}"`, {
        file: pkgPath,
        hint: `the options of ${adapter.name} are: ${[...byKey.keys()].join(", ") || "(none)"}`,
      });
    }
    raw[k] = value;
  }
  for (const [key, value] of Object.entries(flags)) {
    if (!byKey.has(key)) throw new UsageError(`unknown option "${key}" for baton ${adapter.name}`);
    raw[key] = value;
  }
  for (const [key, [flag, option]] of byKey) {
    const value = raw[key];
    if (value === undefined) continue;
    if (option.type === "boolean" && typeof value !== "boolean") {
      throw new BatonError("CONFIG", `option ${key} of ${adapter.name} must be true or false, not ${JSON.stringify(value)}`, { file: pkgPath, hint: `write "${key}": true` });
    }
    if (option.type === "string" && typeof value !== "string" && !(option.jsonFile && typeof value === "object")) {
      throw new BatonError("CONFIG", `option ${key} of ${adapter.name} must be a string, not ${JSON.stringify(value)}`, { file: pkgPath, hint: `write "${key}": "…" or pass --${flag} VALUE` });
    }
    if (option.jsonFile && typeof value === "string") raw[key] = readJsonFile(resolve(projectRoot, value), flag);
  }
  return raw;
}

function packageOptions(pkgPath: string, target: string): Record<string, unknown> {
  let pkg: { baton?: Record<string, unknown> };
  try {
    pkg = JSON.parse(readFileSync(pkgPath, "utf8")) as typeof pkg;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw new BatonError("CONFIG", `cannot read package.json: ${(e as Error).message}`, { file: pkgPath, hint: "fix the JSON" });
  }
  const section = pkg.baton?.[target];
  if (section === undefined) return {};
  if (!section || typeof section !== "object" || Array.isArray(section)) {
    throw new BatonError("CONFIG", `package.json "baton.${target}" must be an object of options`, { file: pkgPath, hint: `write "baton": { "${target}": { … } }` });
  }
  return section as Record<string, unknown>;
}

function readJsonFile(path: string, flag: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new BatonError("CONFIG", `cannot read the file of --${flag}: ${(e as Error).message}`, { file: path, hint: "the path is relative to the project root (the folder of package.json)" });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new BatonError("CONFIG", `the file of --${flag} is not valid JSON: ${(e as Error).message}`, { file: path, hint: "fix the JSON" });
  }
}
