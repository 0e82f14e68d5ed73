import { join, resolve } from "node:path";
import type { BatonAdapter, TargetPlan } from "./contract.js";
import { prepare, type ProjectInput } from "./runner.js";

/** What `baton <target> plan` shows: the adapter's plan and the problems that would fail a build. */
export interface PlanResult extends TargetPlan {
  readonly title: string;
  /** Orchestrator rules the definitions break: `baton <target> build` refuses them. */
  readonly problems: readonly string[];
}

/**
 * The translation, in words, without writing anything: the definitions are compiled in memory so
 * the manifest the adapter sees is the one a build would write.
 */
export async function planTarget<O>(adapter: BatonAdapter<O>, input: ProjectInput): Promise<PlanResult> {
  const { manifest, resolved } = await prepare(adapter, input, join(resolve(input.projectRoot), "OUT", "baton"));
  const problems = adapter.problems(manifest, resolved);
  return { ...adapter.plan(manifest, resolved), title: adapter.title, problems };
}

/** The plan as text: Assets, Edges, Schedules, Sensors, Not honoured (and Problems when any). */
export function renderPlan(plan: TargetPlan & { readonly title?: string; readonly problems?: readonly string[] }): string {
  const lines: string[] = [`Plan for ${plan.title ?? plan.target} (nothing written)`];
  const section = (title: string, rows: readonly string[]) => {
    lines.push("", `${title} (${rows.length})`);
    if (rows.length === 0) lines.push("  none");
    for (const row of rows) lines.push(`  ${row.split("\n").join("\n    ")}`);
  };
  section(
    "Assets",
    plan.assets.map((a) => `${a.id}${a.partitions ? `  [${a.partitions}]` : ""}\n→ ${a.becomes.join("\n→ ") || "(nothing)"}`),
  );
  section("Edges", plan.edges.map((e) => `${e.from} → ${e.to}  (${e.via})`));
  section("Schedules", plan.schedules.map((s) => `${s.name} → ${s.becomes}`));
  section("Sensors", plan.sensors.map((s) => `${s.name} → ${s.becomes}`));
  section("Not honoured", plan.unsupported.map((u) => `${u.definition}: ${u.reason}`));
  if (plan.problems && plan.problems.length > 0) section("Problems (the build would fail)", plan.problems);
  return lines.join("\n");
}
