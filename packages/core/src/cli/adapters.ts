import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { resolveInstalled } from "../build/closure.js";
import type { BatonAdapter } from "../build/contract.js";
import { BatonError } from "../errors.js";

/**
 * `baton <target> …` uses the "./cli" export of the package `@baton/adapter-<target>` installed in
 * the project. Core learns adapters from the user's install, never from a list of its own.
 */
export async function loadAdapter(target: string, projectRoot: string): Promise<BatonAdapter<unknown>> {
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
  if (!mod.adapter) {
    // A pre-contract adapter exported run(args, context); core no longer drives those.
    const legacy = typeof mod.run === "function" ? " (it exports run(), the CLI of adapters before the build contract)" : "";
    throw new BatonError("CONFIG", `${name}/cli exports no \`adapter\`${legacy}`, { file: resolved, hint: `upgrade ${name} to a version built for this @baton/core` });
  }
  const missing = (["name", "title", "options", "runtime", "python", "resolveOptions", "problems", "emit", "plan", "nextSteps"] as const).filter((k) => mod.adapter![k] === undefined);
  if (missing.length > 0 || mod.adapter.name !== target) {
    const problem = missing.length > 0 ? `lacks ${missing.join(", ")}` : `is named "${String(mod.adapter.name)}", not "${target}"`;
    throw new BatonError("CONFIG", `the adapter exported by ${name}/cli ${problem}`, { file: resolved, hint: `upgrade ${name} to one built for @baton/core's adapter contract` });
  }
  return mod.adapter as BatonAdapter<unknown>;
}
