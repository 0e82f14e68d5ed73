import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Definitions } from "../definitions.js";
import { BatonError } from "../errors.js";

/** What `baton <target> …` hands an adapter's CLI module. */
export interface AdapterCliContext {
  readonly defs: Definitions;
  /** The compiled definitions module (absolute path) that orchestrated steps import. */
  readonly module: string;
  readonly exportName: string;
  readonly projectRoot: string;
  out(text: string): void;
  err(text: string): void;
}

export interface AdapterCli {
  run(args: readonly string[], context: AdapterCliContext): Promise<number>;
}

/**
 * `baton <target> …` runs the `cli` export of the package `@baton/adapter-<target>` installed in
 * the project. Core learns adapters from the user's install, never from a list of its own.
 */
export async function loadAdapterCli(target: string, projectRoot: string): Promise<AdapterCli> {
  const name = `@baton/adapter-${target}`;
  let pkgJson: string;
  try {
    pkgJson = createRequire(join(projectRoot, "package.json")).resolve(`${name}/package.json`);
  } catch {
    throw new BatonError("CONFIG", `unknown command "${target}": the package ${name} is not installed in ${projectRoot}`, {
      hint: `install it (pnpm add -D ${name}) or run \`baton --help\` for the built-in commands`,
    });
  }
  // ESM-only packages export "./cli" under "import", which require.resolve cannot see.
  const exportsMap = (JSON.parse(readFileSync(pkgJson, "utf8")) as { exports?: Record<string, { import?: string } | string> }).exports ?? {};
  const entry = exportsMap["./cli"];
  const cliPath = typeof entry === "string" ? entry : entry?.import;
  if (!cliPath) throw new BatonError("CONFIG", `${name} has no "./cli" export`, { file: pkgJson, hint: `upgrade ${name}` });
  const resolved = join(dirname(pkgJson), cliPath);
  const mod = (await import(pathToFileURL(resolved).href)) as Partial<AdapterCli>;
  if (typeof mod.run !== "function") throw new BatonError("CONFIG", `${name}/cli exports no run() function`, { file: resolved, hint: `upgrade ${name}` });
  return mod as AdapterCli;
}
