/**
 * `baton dagster`: the Dagster adapter for core's build runner. It checks the manifest against
 * Dagster's rules and emits a `dg` project whose one component is the Baton build; core writes
 * everything else (baton/, wheels/, requirements.txt) and replaces the folder atomically.
 */
import { fileURLToPath } from "node:url";
import { BatonError } from "@baton/core";
import { corePythonWheel, shippedWheel, wheelPin, type BatonAdapter, type BuildInput } from "@baton/core/build";
import { dagsterPlan } from "./plan.js";
import { DAGSTER_PINS, moduleName, projectFiles, type StorageCredentials } from "./project.js";
import { dagsterProblems } from "./translate.js";


/** The baton_dagster wheel this package ships (built by `pnpm --filter @baton/adapter-dagster build`). */
export function dagsterWheel(): string {
  return shippedWheel(fileURLToPath(new URL("../python/dist/", import.meta.url)), "baton_dagster", "@baton/adapter-dagster");
}


interface Options {
  readonly storageCredentials: StorageCredentials;
}

const CREDENTIALS: readonly StorageCredentials[] = ["environment", "chain"];

function resolveOptions(raw: Readonly<Record<string, unknown>>): Options {
  const value = raw.storageCredentials ?? "environment";
  if (typeof value !== "string" || !CREDENTIALS.includes(value as StorageCredentials)) {
    throw new BatonError("CONFIG", `option storage-credentials must be "environment" or "chain", not ${JSON.stringify(value)}`, {
      hint: 'e.g. --storage-credentials chain or "storageCredentials": "chain" (the AWS SDK\'s chain: profiles, instance roles)',
    });
  }
  return { storageCredentials: value as StorageCredentials };
}

export const adapter: BatonAdapter<Options> = {
  name: "dagster",
  title: "Dagster",
  supports: {
    timePartitions: true,
    staticPartitions: true,
    partitionRanges: "a backfill is one run per partition (BackfillPolicy.multi_run(1)); a range run is one Node step whose materializations share one data version",
    schedules: true,
    sensors: true,
    checks: true,
    retries: true,
    resources: true,
  },
  options: {
    "storage-credentials": {
      type: "string",
      description: 'S3 credentials of the steps (resource baton_storage): "environment" (default: dg.EnvVar("AWS_ACCESS_KEY_ID") and dg.EnvVar("AWS_SECRET_ACCESS_KEY"), read in the run) or "chain" (the AWS SDK\'s chain: profiles, instance roles)',
    },
  },
  runtime: { stepPackage: "@baton/adapter-dagster", stepBin: "dist/step-bin.js" },
  python: () => ({ wheels: [dagsterWheel()], requirements: [...DAGSTER_PINS] }),
  resolveOptions: (raw) => resolveOptions(raw),
  problems: (manifest) => dagsterProblems(manifest),
  emit(input: BuildInput<Options>) {
    // Core pins baton-core and baton-dagster to the versions of the wheels it copies: the same here.
    const dependencies = [...DAGSTER_PINS, wheelPin(corePythonWheel()), wheelPin(dagsterWheel())].sort();
    return projectFiles({ module: moduleName(input.projectName), dependencies, storage: input.storage, storageCredentials: input.options.storageCredentials });
  },
  plan: (manifest) => dagsterPlan(manifest),
  nextSteps(out, input) {
    const s3 = input.storage?.startsWith("s3://") === true;
    const where = `resource baton_storage in src/${moduleName(input.projectName)}/defs/resources.py`;
    return [
      `Dagster project (dg) in ${out}`,
      `  check it:  cd ${out} && uv sync && uv run dg check defs`,
      `  run it:    uv run dg launch --assets '*'   ·   uv run dg dev`,
      `  deploy:    pip install -r requirements.txt (a code-location image: see the adapter README)`,
      // Dagster enforces a pool with the instance's limit (the op's pool= names it).
      ...(input.manifest.pools ?? []).map((p) => `  pool:      dagster instance concurrency set ${p.name} ${p.limit}   (on the Dagster instance, once)`),
      ...(s3 && input.options.storageCredentials === "environment"
        ? [`  storage:   ${input.storage}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY where runs are launched and run (${where}: dg.EnvVar)`]
        : s3
          ? [`  storage:   ${input.storage}: credentials from the AWS SDK's chain on each run worker (${where})`]
          : []),
    ];
  },
};
