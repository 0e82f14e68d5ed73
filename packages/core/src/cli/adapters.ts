import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Definitions } from "../definitions.js";
import { resolveInstalled } from "../build/closure.js";
import type { BatonAdapter } from "../build/contract.js";
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

/** The legacy adapter CLI: `run(args, context)`, kept until every adapter exports `adapter`. */
export interface AdapterCli {
  run(args: readonly string[], context: AdapterCliContext): Promise<number>;
}

/** What an adapter package's "./cli" entry offers: the contract (`adapter`), or the legacy `run`. */
export type LoadedAdapter = { readonly kind: "adapter"; readonly adapter: BatonAdapter<unknown> } | { readonly kind: "legacy"; readonly cli: AdapterCli };

/**
 * `baton <target> …` uses the "./cli" export of the package `@baton/adapter-<target>` installed in
 * the project. Core learns adapters from the user's install, never from a list of its own.
 */
export async function loadAdapter(target: string, projectRoot: string): Promise<LoadedAdapter> {
  const name = `@baton/adapter-${target}`;
  // resolveInstalled also finds a package whose `exports` hide its package.json.
  const installed = resolveInstalled(name, projectRoot);
  if (!installed) {
    throw new BatonError("CONFIG", `unknown command "${target}": the package ${name} is not installed in ${projectRoot}`, {
      hint: `install it (pnpm add -D ${name}) or run \`baton --help\` for the built-in commands`,
    });
  }
  // ESM-only packages export "./cli" under "import" or "default", which require.resolve cannot see.
  const pkgJson = join(installed.dir, "package.json");
  const exportsMap = (installed.pkg as { exports?: Record<string, { import?: string; default?: string } | string> }).exports ?? {};
  const entry = exportsMap["./cli"];
  const cliPath = typeof entry === "string" ? entry : (entry?.import ?? entry?.default);
  if (!cliPath) throw new BatonError("CONFIG", `${name} has no "./cli" export`, { file: pkgJson, hint: `upgrade ${name}` });
  const resolved = join(dirname(pkgJson), cliPath);
  const mod = (await import(pathToFileURL(resolved).href)) as { adapter?: Partial<BatonAdapter<unknown>>; run?: unknown };
  if (mod.adapter) {
    const missing = (["name", "title", "options", "runtime", "python", "resolveOptions", "problems", "emit", "plan", "nextSteps"] as const).filter((k) => mod.adapter![k] === undefined);
    if (missing.length > 0 || mod.adapter.name !== target) {
      const problem = missing.length > 0 ? `lacks ${missing.join(", ")}` : `is named "${String(mod.adapter.name)}", not "${target}"`;
      throw new BatonError("CONFIG", `the adapter exported by ${name}/cli ${problem}`, { file: resolved, hint: `upgrade ${name} to one built for @baton/core's adapter contract` });
    }
    return { kind: "adapter", adapter: mod.adapter as BatonAdapter<unknown> };
  }
  if (typeof mod.run === "function") return { kind: "legacy", cli: mod as AdapterCli };
  throw new BatonError("CONFIG", `${name}/cli exports neither \`adapter\` nor run()`, { file: resolved, hint: `upgrade ${name}` });
}
