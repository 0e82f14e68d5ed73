import { fileURLToPath } from "node:url";
import { BatonError } from "@baton/core";
import { shippedWheel, type BatonAdapter, type BuildInput, type OutputFile } from "@baton/core/build";
import { deploymentSpecs } from "./deployments.js";
import { devCommand } from "./dev.js";
import { flowsFile } from "./emit-flows.js";
import { prefectYaml } from "./emit-yaml.js";
import { PREFECT_OPTIONS, resolvePrefectOptions, type PrefectOptions } from "./options.js";
import { prefectPlan } from "./plan.js";
import { prefectProblems } from "./problems.js";
import { PREFECT_VERSION } from "./versions.js";

/** The baton_prefect wheel this package ships (built by `pnpm --filter @baton/adapter-prefect build`). */
export function prefectWheel(): string {
  return shippedWheel(fileURLToPath(new URL("../python/dist/", import.meta.url)), "baton_prefect", "@baton/adapter-prefect");
}

export const adapter: BatonAdapter<PrefectOptions> = {
  name: "prefect",
  title: "Prefect",
  supports: {
    timePartitions: "the flow parameter partition_key (Prefect has no partitions)",
    staticPartitions: "the flow parameter partition_key (Prefect has no partitions)",
    partitionRanges: "partition_range_start/end: one task run per partition (.map), run in parallel",
    schedules: "a deployment per schedule (cron in its timezone; RRules for the repeated DST hour)",
    sensors: "a deployment whose hourly flow run ticks the sensor every minimumIntervalSeconds, starting a deployment per run key; its schedule starts off (Prefect has no sensors)",
    checks: "logged and kept as table artifacts (Prefect has no asset checks); a standalone check is a task of its own after its asset; run alone by the checks flow",
    retries: true,
    resources: "Blocks, Secrets and Variables (--resources), else the worker's environment",
  },
  options: PREFECT_OPTIONS,
  runtime: { stepPackage: "@baton/core", stepBin: "dist/step/bin.js" },
  python: () => ({ wheels: [prefectWheel()], requirements: [`prefect==${PREFECT_VERSION}`] }),
  resolveOptions: resolvePrefectOptions,
  problems: prefectProblems,
  emit(input: BuildInput<PrefectOptions>): OutputFile[] {
    // Core refuses a build with problems before it asks for files; emit called on its own refuses too.
    const problems = prefectProblems(input.manifest, input.options);
    if (problems.length) {
      throw new BatonError("CONFIG", `the definitions break Prefect's rules:\n  - ${problems.join("\n  - ")}`, { hint: "fix each one and rebuild with `baton prefect build`" });
    }
    const flowName = input.options.flowName;
    const deployments = deploymentSpecs(input.manifest, flowName);
    return [
      { path: "flows.py", content: flowsFile({ flowName, deployments, pools: input.manifest.pools.length > 0 }) },
      { path: "prefect.yaml", content: prefectYaml({ flowName, workPool: input.options.workPool, deployments, pools: input.manifest.pools }) },
    ];
  },
  plan: (manifest, options) => prefectPlan(manifest, options.flowName, options.workPool, options.cache),
  nextSteps(out, input) {
    const pool = input.options.workPool;
    return [
      `Deploy it (in a Python environment with Prefect's API configured, PREFECT_API_URL):`,
      `  cd ${out}`,
      `  pip install -r requirements.txt`,
      `  prefect work-pool create ${pool} --type process`,
      `  prefect --no-prompt deploy --all`,
      `  prefect worker start --pool ${pool}`,
      `Or serve every deployment from this folder: python flows.py`,
    ];
  },
  commands: { dev: devCommand },
};
