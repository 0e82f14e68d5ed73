import { resolve } from "node:path";
import { parseArgs } from "node:util";
import type { BatonAdapter } from "./contract.js";
import { parseTargetArgs, UsageError } from "./options.js";
import { planTarget, renderPlan } from "./plan.js";
import { buildTarget, type ProjectInput } from "./runner.js";

export interface TargetIo {
  /** What a relative --out is relative to (the CLI's working directory). */
  readonly cwd: string;
  out(text: string): void;
  err(text: string): void;
}

const BUILD_FLAGS = { out: { type: "string" }, storage: { type: "string" }, help: { type: "boolean" } } as const;
const PLAN_FLAGS = { json: { type: "boolean" }, help: { type: "boolean" } } as const;

/**
 * `baton <target> build|plan|<command> …` for an adapter: core parses the flags, builds or plans,
 * and prints; the adapter only translates. Returns the exit code; a UsageError (exit 2) is thrown
 * for a command line that cannot be parsed, a BatonError (exit 1) for a build that cannot be made.
 */
export async function runTargetCommand(adapter: BatonAdapter<unknown>, args: readonly string[], project: Omit<ProjectInput, "rawOptions">, io: TargetIo): Promise<number> {
  const all = { ...BUILD_FLAGS, ...PLAN_FLAGS, ...Object.fromEntries(Object.entries(adapter.options).map(([f, o]) => [f, { type: o.type }])) };
  const { tokens, values } = parseArgs({ args: [...args], options: all, allowPositionals: true, strict: false, tokens: true });
  const first = tokens.find((t) => t.kind === "positional");
  if (!first || values.help) {
    io.out(targetUsage(adapter));
    return values.help ? 0 : 2;
  }
  const sub = first.value;
  const rest = args.filter((_, i) => i !== first.index);
  if (sub === "plan") {
    const parsed = parseTargetArgs(adapter, rest, PLAN_FLAGS);
    if (parsed.rest.length > 0) throw new UsageError(`baton ${adapter.name} plan takes no argument (got ${parsed.rest.join(" ")})`);
    const plan = await planTarget(adapter, { ...project, rawOptions: parsed.flags });
    io.out(parsed.common.json ? JSON.stringify(plan, null, 2) : renderPlan(plan));
    return plan.problems.length > 0 ? 1 : 0;
  }
  const command = sub === "build" ? undefined : adapter.commands?.[sub];
  if (sub !== "build" && !command) {
    throw new UsageError(`baton ${adapter.name} has no command "${sub}" (it has: ${["build", "plan", ...Object.keys(adapter.commands ?? {})].join(", ")})`);
  }
  // An adapter command gets what core does not know (its own positionals and flags) in `args`.
  const parsed = parseTargetArgs(adapter, rest, BUILD_FLAGS, command !== undefined);
  if (!command && parsed.rest.length > 0) throw new UsageError(`baton ${adapter.name} build takes no argument (got ${parsed.rest.join(" ")})`);
  const out = parsed.common.out;
  if (typeof out !== "string") throw new UsageError(`baton ${adapter.name} ${sub} needs --out DIR (the folder to build into)`);
  const t0 = performance.now();
  const result = await buildTarget(adapter, { ...project, outDir: resolve(io.cwd, out), storage: (parsed.common.storage as string | undefined) ?? null, rawOptions: parsed.flags });
  const m = result.manifest;
  const count = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`;
  io.out(
    `✔ built for ${adapter.title} into ${out} in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${count(m.assets.length, "asset")}, ${count(m.schedules.length, "schedule")}, ${count(m.sensors.length, "sensor")}; runtime of ${count(result.runtime.packages.length, "package")}`,
  );
  if (!command) {
    for (const line of adapter.nextSteps(out, result.input)) io.out(`  ${line}`);
    return 0;
  }
  return command.run({ outDir: result.outDir, options: result.input.options, args: parsed.rest, out: io.out, err: io.err });
}

/** `baton <target> --help`: the commands and the adapter's flags. */
export function targetUsage(adapter: BatonAdapter<unknown>): string {
  const n = adapter.name;
  const commands = Object.entries(adapter.commands ?? {}).map(([name, c]) => [`baton ${n} ${name} --out DIR [flags]`, c.description]);
  const rows = [
    [`baton ${n} build --out DIR [--storage PATH|URL] [flags]`, "build a deployable folder (replaces a previous build)"],
    [`baton ${n} plan [--json] [flags]`, "what the build would produce, writing nothing"],
    ...commands,
  ];
  const flags = Object.entries(adapter.options).map(([flag, o]) => [`--${flag}${o.type === "string" ? (o.jsonFile ? " FILE" : " VALUE") : ""}`, `${o.description}${o.jsonFile ? " (a JSON file, relative to the project)" : ""}`]);
  const table = (list: string[][]) => {
    const width = Math.max(...list.map(([a]) => a!.length));
    return list.map(([a, b]) => `  ${a!.padEnd(width)}  ${b}`).join("\n");
  };
  return [
    `baton ${n} — build for ${adapter.title} with @baton/adapter-${n}`,
    "",
    table(rows),
    "",
    flags.length ? `Flags (or in package.json: "baton": { "${n}": { … } }; a flag wins):\n${table(flags)}` : "No target flags.",
    `--storage: an absolute path or a URL, baked into baton/build.json; without it the workers' BATON_STORAGE decides.`,
  ].join("\n");
}
