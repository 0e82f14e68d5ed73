import { BatonError } from "../../errors.js";
import type { BatonAdapter, OutputFile } from "../contract.js";

export interface FakeOptions {
  readonly greeting: string;
  readonly loud: boolean;
  readonly extra: unknown;
}

/**
 * A minimal adapter, a unit of core's build (not a stand-in for an orchestrator): it emits one
 * Python file listing the assets, forbids an owner called "nobody", and can be told to emit a
 * bad file so the runner's checks are exercised.
 */
export function fakeAdapter(overrides: { emit?: (files: OutputFile[]) => OutputFile[]; stepPackage?: string } = {}): BatonAdapter<FakeOptions> {
  return {
    name: "fake",
    title: "Fake Orchestrator",
    supports: { timePartitions: true, staticPartitions: true, partitionRanges: "one run per key", schedules: true, sensors: true, checks: true, retries: true, resources: true },
    options: {
      greeting: { type: "string", description: "the first line of the emitted file" },
      loud: { type: "boolean", description: "upper-case the greeting" },
      "extra-file": { type: "string", description: "a JSON file with anything", jsonFile: true },
    },
    runtime: { stepPackage: overrides.stepPackage ?? "@baton/core", stepBin: "dist/step/bin.js" },
    python: () => ({ wheels: [], requirements: ["fake-orchestrator==1.2.3"] }),
    resolveOptions(raw) {
      if (raw.greeting !== undefined && typeof raw.greeting !== "string") throw new BatonError("CONFIG", "greeting must be a string");
      return { greeting: (raw.greeting as string | undefined) ?? "hello", loud: raw.loud === true, extra: raw.extraFile ?? null };
    },
    problems: (manifest) => manifest.assets.filter((a) => a.owners.includes("nobody")).map((a) => `asset "${a.id}": owner "nobody" is not allowed here`),
    emit({ manifest, options }) {
      const greeting = options.loud ? options.greeting.toUpperCase() : options.greeting;
      const files: OutputFile[] = [
        { path: "fake/definitions.py", content: `"""${greeting}."""\n\nASSETS = ${JSON.stringify(manifest.assets.map((a) => a.id))}\n` },
        { path: "fake/README.md", content: `module ${manifest.runtime.module}\n` },
      ];
      return overrides.emit ? overrides.emit(files) : files;
    },
    plan: (manifest) => ({
      target: "fake",
      assets: manifest.assets.map((a) => ({ id: a.id, becomes: [`job ${a.id}`], partitions: a.partitions ? a.partitions.type : null })),
      edges: manifest.assets.flatMap((a) => a.deps.map((d) => ({ from: d.id, to: a.id, via: "job dep" }))),
      schedules: manifest.schedules.map((s) => ({ name: s.name, becomes: `cron ${s.cron}` })),
      sensors: manifest.sensors.map((s) => ({ name: s.name, becomes: "poller" })),
      unsupported: manifest.sensors.map((s) => ({ definition: `sensor ${s.name}`, reason: "fake polls once a minute at most" })),
    }),
    nextSteps: (out) => [`fake run ${out}`],
  };
}
