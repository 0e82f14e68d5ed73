import type { Logger } from "./asset.js";
import type { TickResult } from "./schedule.js";
import { resolveSelection, type Selection } from "./selection.js";
import { callerLocation } from "./source.js";

export interface SensorContext<R = Record<string, unknown>> {
  readonly cursor: string | undefined;
  readonly now: Date;
  readonly resources: R;
  readonly log: Logger;
}

export interface SensorDefinition {
  readonly kind: "sensor";
  readonly name: string;
  readonly selection: string;
  readonly minimumIntervalSeconds: number;
  readonly resources: readonly string[];
  readonly description: string | undefined;
  readonly evaluate: (context: SensorContext) => TickResult | Promise<TickResult>;
  readonly file: string | undefined;
  /** The line of `file` where sensor() was called, for messages (`file:line`). */
  readonly line?: number | undefined;
}

export function sensor(config: {
  name: string;
  /** A string ("group:daily"), an asset, a helper (`upstream(x)`, `group("sales")`, …) or an array of these. */
  selection: Selection;
  evaluate: (context: SensorContext) => TickResult | Promise<TickResult>;
  minimumIntervalSeconds?: number;
  resources?: readonly string[];
  description?: string;
}): SensorDefinition {
  const at = callerLocation();
  return {
    kind: "sensor",
    name: config.name,
    selection: resolveSelection(config.selection),
    minimumIntervalSeconds: config.minimumIntervalSeconds ?? 30,
    resources: [...(config.resources ?? [])],
    description: config.description,
    evaluate: config.evaluate,
    file: at?.file,
    line: at?.line,
  };
}
