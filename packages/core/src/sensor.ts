import { resolveResources, type Logger, type ResourcesConfig, type ResourcesOf } from "./asset.js";
import type { ResourceDefinition } from "./resource.js";
import type { RunRequest, TickResult } from "./schedule.js";
import { resolveSelection, type Selection } from "./selection.js";
import { callerLocation } from "./source.js";

export interface SensorContext<R = Record<string, unknown>> {
  readonly cursor: string | undefined;
  readonly now: Date;
  /** The sensor's resources: typed from `sensor({ resources: { bucket } })`; `unknown` by name for `resources: ["bucket"]`. */
  readonly resources: R;
  readonly log: Logger;
}

/** What a sensor's evaluate may ask for: a selection as a string, an asset, helpers (`downstream(x)`) or an array of them. */
export type SensorRunRequest = Omit<RunRequest, "selection"> & {
  /** Assets to run; the sensor's selection when absent. Resolved to the string syntax (`RunRequest.selection`). */
  readonly selection?: Selection;
};

/** A sensor tick's outcome as evaluate returns it; its selections are resolved to strings (`TickResult`). */
export type SensorTickResult =
  | { readonly runRequests: readonly SensorRunRequest[]; readonly cursor?: string | undefined }
  | { readonly skip: string; readonly cursor?: string | undefined };

export interface SensorDefinition {
  readonly kind: "sensor";
  readonly name: string;
  readonly selection: string;
  readonly minimumIntervalSeconds: number;
  /** The names of the resources evaluate uses (what the manifest and the tick read). */
  readonly resources: readonly string[];
  /** The resource objects declared with `resources: { name: resource(…) }`, collected by `definitions()`. */
  readonly resourceDefinitions?: Readonly<Record<string, ResourceDefinition<any, any>>>;
  readonly description: string | undefined;
  /** Returns run requests with their selections resolved to the string syntax. */
  readonly evaluate: (context: SensorContext) => TickResult | Promise<TickResult>;
  readonly file: string | undefined;
  /** The line of `file` where sensor() was called, for messages (`file:line`). */
  readonly line?: number | undefined;
}

export function sensor<R extends ResourcesConfig = readonly string[]>(config: {
  name: string;
  /** A string ("group:daily"), an asset, a helper (`upstream(x)`, `group("sales")`, …) or an array of these. */
  selection: Selection;
  evaluate: (context: SensorContext<ResourcesOf<R>>) => SensorTickResult | Promise<SensorTickResult>;
  minimumIntervalSeconds?: number;
  /**
   * The resources evaluate uses, by name: `{ bucket }` (typed in `ctx.resources`, collected by `definitions()`).
   * `["bucket"]` (names provided by `definitions({ resources })`) still works, deprecated.
   */
  resources?: R;
  description?: string;
}): SensorDefinition {
  const at = callerLocation();
  const { names, objects } = resolveResources(config.resources, { sensor: config.name }, at?.file);
  const evaluate = config.evaluate as unknown as (context: SensorContext) => SensorTickResult | Promise<SensorTickResult>;
  return {
    kind: "sensor",
    name: config.name,
    selection: resolveSelection(config.selection),
    minimumIntervalSeconds: config.minimumIntervalSeconds ?? 30,
    resources: names,
    resourceDefinitions: objects,
    description: config.description,
    // Resolved here, so every runtime's tick (ticks.ts, baton-step sensor) reads string selections as before.
    evaluate: (context) => {
      const result = evaluate(context);
      return isPromise(result) ? result.then(resolveTick) : resolveTick(result);
    },
    file: at?.file,
    line: at?.line,
  };
}

function isPromise<T>(x: T | Promise<T>): x is Promise<T> {
  return typeof (x as { then?: unknown } | null)?.then === "function";
}

function resolveTick(result: SensorTickResult): TickResult {
  if (result === null || typeof result !== "object" || !("runRequests" in result) || !Array.isArray(result.runRequests)) return result as TickResult;
  return {
    ...result,
    runRequests: result.runRequests.map((r) => {
      if (r === null || typeof r !== "object" || r.selection === undefined) return r as RunRequest;
      const { selection, ...rest } = r;
      return { ...rest, selection: resolveSelection(selection) };
    }),
  };
}
