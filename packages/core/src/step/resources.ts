import type { AssetDefinition } from "../asset.js";
import type { Definitions } from "../definitions.js";
import { resolveConfig, secretValues, type ResourceDefinition } from "../resource.js";

export interface BuiltResources {
  readonly instances: Readonly<Record<string, unknown>>;
  /** Replaces every secret value in a text with "***". */
  readonly redact: (text: string) => string;
  teardown(): Promise<void>;
}

/** Replaces the values of the secret fields of these resources with "***". */
export function secretRedactor(defs: Definitions, keys: readonly string[], environment: Readonly<Record<string, string | undefined>>): (text: string) => string {
  const secrets = secretValues(keys.map((k) => defs.resources[k]).filter((r): r is ResourceDefinition => r !== undefined), environment);
  return (text: string) => secrets.reduce((t, s) => t.split(s).join("***"), text);
}

/** The keys of the resources these assets need, in first-use order. */
export function resourceKeys(assets: readonly AssetDefinition[]): string[] {
  return [...new Set(assets.flatMap((a) => a.resources))];
}

/** Build only the resources these assets need, once per step; config comes from `environment`. */
export async function buildResources(
  defs: Definitions,
  assets: readonly AssetDefinition[],
  environment: Readonly<Record<string, string | undefined>>,
  overrides: Readonly<Record<string, unknown>> = {},
  keys: readonly string[] = resourceKeys(assets),
): Promise<BuiltResources> {
  const needed = keys;
  const redact = secretRedactor(defs, needed, environment);
  const instances: Record<string, unknown> = {};
  const built: [ResourceDefinition<any, any>, unknown][] = [];
  const teardown = async () => {
    for (const [def, inst] of built.reverse()) await def.teardown?.(inst);
  };
  try {
    for (const key of needed) {
      if (key in overrides) {
        instances[key] = overrides[key];
        continue;
      }
      const def = defs.resources[key]!;
      const firstUser = assets.find((a) => a.resources.includes(key))?.id;
      const config = resolveConfig(key, def.config, environment, firstUser);
      const inst = await def.create(config);
      instances[key] = inst;
      built.push([def, inst]);
    }
  } catch (e) {
    await teardown();
    throw e;
  }
  return { instances, redact, teardown };
}
