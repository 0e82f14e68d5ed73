import type { Manifest } from "../manifest/types.js";

/**
 * The one contract between core and an orchestrator adapter. Core owns everything that is the same
 * for every target: the CLI (`baton <target> build|plan|<command>`), option parsing (flags over
 * package.json `"baton": { "<target>": { … } }`), the manifest (always `OUT/baton/manifest.json`) and
 * its version, the Node step runtime (`OUT/baton/runtime/`), the Python wheels and
 * `OUT/requirements.txt`, and the atomic replacement of the output folder. An adapter only
 * translates: it checks the manifest against its orchestrator's rules and emits its own files.
 */
export interface BatonAdapter<O = Readonly<Record<string, unknown>>> {
  /** The CLI word and the `baton/build.json` target: "dagster", "airflow", "prefect". */
  readonly name: string;
  /** How people write the orchestrator's name: "Dagster", "Apache Airflow", "Prefect". */
  readonly title: string;
  /** What the target honours; a string says how it is limited (shown by `baton <target> plan`). */
  readonly supports: Readonly<Record<AdapterFeature, true | string>>;
  /** Flags beyond the common `--out` and `--storage`, by kebab-case flag name. */
  readonly options: Readonly<Record<string, AdapterOption>>;
  /** Which installed package's step entry the orchestrator launches; it is copied into the runtime. */
  readonly runtime: TargetRuntime;
  /** The wheels this adapter ships (absolute paths) and the exact pins of its orchestrator. */
  python(): PythonRequirements;
  /**
   * Check and normalise option values (a flag wins over package.json; JSON-file options arrive
   * parsed), defaults included: what it returns is recorded in `baton/build.json`. Throws a
   * BatonError that names the option.
   */
  resolveOptions(raw: Readonly<Record<string, unknown>>, project: ProjectContext): O;
  /** Every rule of the orchestrator the manifest breaks, each naming the asset, schedule or sensor. */
  problems(manifest: Manifest, options: O): string[];
  /** The target's own files, relative to the output folder. Never an absolute path or `..` inside. */
  emit(input: BuildInput<O>): OutputFile[];
  /** What `emit` would produce, in words, for `baton <target> plan`. Writes nothing. */
  plan(manifest: Manifest, options: O): TargetPlan;
  /** Lines printed after a build (how to run it); `out` is the output folder as the user gave it. */
  nextSteps(out: string, input: BuildInput<O>): string[];
  /** Extra subcommands (`baton prefect dev`). Core builds into `--out` first, then calls run. */
  readonly commands?: Readonly<Record<string, AdapterCommand<O>>>;
}

/** What an adapter may know of the project when resolving options (never its paths). */
export interface ProjectContext {
  /** package.json `name`, if any. */
  readonly name: string | undefined;
}

export type AdapterFeature =
  | "timePartitions"
  | "staticPartitions"
  | "partitionRanges"
  | "schedules"
  | "sensors"
  | "checks"
  | "retries"
  | "resources";

export interface AdapterOption {
  readonly type: "string" | "boolean";
  readonly description: string;
  /** A string flag naming a JSON file (relative to the project root): the parsed JSON is the value. */
  readonly jsonFile?: boolean;
}

export interface TargetRuntime {
  /** The npm package holding the step entry, e.g. "@baton/core" or "@baton/adapter-dagster". */
  readonly stepPackage: string;
  /** The step entry inside that package, e.g. "dist/step/bin.js". */
  readonly stepBin: string;
}

export interface PythonRequirements {
  /** Absolute paths of the `.whl` files copied into `OUT/wheels/` (core's own wheel is added by core). */
  readonly wheels: readonly string[];
  /** Exact pins written to `OUT/requirements.txt`, e.g. ["dagster==1.13.28", "dagster-webserver==1.13.28"]. */
  readonly requirements: readonly string[];
}

export interface BuildInput<O> {
  /** The manifest as written to `OUT/baton/manifest.json` (its paths are relative to `OUT/baton`). */
  readonly manifest: Manifest;
  readonly options: O;
  /** The storage default baked into `baton/build.json` (an absolute path or a URL), or null. */
  readonly storage: string | null;
  /** package.json `name` of the project, if any (e.g. a default flow name). Never write paths from here. */
  readonly projectName: string | undefined;
}

export interface OutputFile {
  /** Relative to the output folder, with "/" separators; core rejects absolute paths and `..`. */
  readonly path: string;
  readonly content: string | Uint8Array;
}

export interface TargetPlan {
  readonly target: string;
  /** Per Baton asset, the orchestrator objects it becomes, e.g. ["asset customers", "op baton__sales in multi-asset sales"]. */
  readonly assets: readonly { readonly id: string; readonly becomes: readonly string[]; readonly partitions: string | null }[];
  /** Dependencies as the orchestrator sees them: `via` says how, e.g. "asset dep", "Airflow Asset outlet → schedule". */
  readonly edges: readonly { readonly from: string; readonly to: string; readonly via: string }[];
  readonly schedules: readonly { readonly name: string; readonly becomes: string }[];
  readonly sensors: readonly { readonly name: string; readonly becomes: string }[];
  /** Definitions the target cannot honour, with the reason (build still succeeds when it can degrade). */
  readonly unsupported: readonly { readonly definition: string; readonly reason: string }[];
}

export interface AdapterCommand<O> {
  readonly description: string;
  run(context: AdapterCommandContext<O>): Promise<number>;
}

export interface AdapterCommandContext<O> {
  /** The freshly built output folder (absolute). */
  readonly outDir: string;
  readonly options: O;
  /** Positionals and flags left after core parsed its own and the adapter's options. */
  readonly args: readonly string[];
  out(text: string): void;
  err(text: string): void;
}

/** What an adapter package exports as `adapter` from its "./cli" entry. */
export interface AdapterModule {
  readonly adapter: BatonAdapter<unknown>;
}
