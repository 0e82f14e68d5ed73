import type { AssetDefinition } from "../asset.js";
import { allChecksOf, type Definitions } from "../definitions.js";
import { resolveConfig, secretValues, type ResourceDefinition } from "../resource.js";
import { storageSecrets } from "../io/open.js";

export interface BuiltResources {
  readonly instances: Readonly<Record<string, unknown>>;
  /** Replaces every secret value in a text with "***". */
  readonly redact: (text: string) => string;
  teardown(): Promise<void>;
}

/** The values of the secret fields of these resources in this environment. */
export function stepSecrets(defs: Definitions, keys: readonly string[], environment: Readonly<Record<string, string | undefined>>): string[] {
  // The IO store's credentials are in every step's environment whatever its resources are.
  return [...secretValues(keys.map((k) => defs.resources[k]).filter((r): r is ResourceDefinition => r !== undefined), environment), ...storageSecrets(environment)];
}

/** Replaces each of these values with "***" (the longest first, so a secret containing another goes whole). */
export function redactorOf(secrets: Iterable<string>): (text: string) => string {
  const values = [...new Set(secrets)].filter((s) => s.length > 0).sort((a, b) => b.length - a.length);
  if (values.length === 0) return (text: string) => text;
  return (text: string) => values.reduce((t, s) => t.split(s).join("***"), text);
}

/** Replaces the values of the secret fields of these resources with "***". */
export function secretRedactor(defs: Definitions, keys: readonly string[], environment: Readonly<Record<string, string | undefined>>): (text: string) => string {
  return redactorOf(stepSecrets(defs, keys, environment));
}

/** The keys of the resources these assets need, in first-use order. */
export function resourceKeys(assets: readonly AssetDefinition[]): string[] {
  return [...new Set(assets.flatMap((a) => a.resources))];
}

/**
 * The resources a step of these assets builds (TABLE-OUTPUT-CONTRACT.md §4): their own, then the catalog of
 * every table-output asset whose output they read (their inputs, their standalone checks' inputs). The step
 * runtime, the embedded executor and the manifest's `assets[].resources` use this one set, so every adapter
 * supplies those resources' environment without knowing about tables. `ctx.resources` stays the declared ones.
 */
export function stepResourceKeys(defs: Definitions, assets: readonly AssetDefinition[]): string[] {
  const keys = new Set(resourceKeys(assets));
  const addCatalogOf = (key: readonly string[]) => {
    const up = defs.asset(key.join("/"));
    if (up.table) keys.add(up.table.catalog);
  };
  for (const a of assets) {
    for (const input of a.inputs) addCatalogOf(input.key);
    for (const c of allChecksOf(defs, a.id)) for (const input of c.inputs) addCatalogOf(input.key);
  }
  return [...keys];
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
  const built: [string, ResourceDefinition<any, any>, unknown][] = [];
  // Every resource is torn down, in reverse order, even when one teardown fails; the first failure is thrown.
  const teardown = async () => {
    let failure: Error | undefined;
    for (const [key, def, inst] of built.splice(0).reverse()) {
      try {
        await def.teardown?.(inst);
      } catch (e) {
        failure ??= new Error(`resource "${key}" teardown failed: ${(e as Error)?.message ?? String(e)}`, { cause: e });
      }
    }
    if (failure) throw failure;
  };
  try {
    for (const key of needed) {
      if (key in overrides) {
        instances[key] = overrides[key];
        continue;
      }
      const def = defs.resources[key]!;
      // A catalog the step only reads through (an upstream's table) is named by the first asset of the step.
      const firstUser = assets.find((a) => a.resources.includes(key))?.id ?? assets[0]?.id;
      const config = resolveConfig(key, def.config, environment, firstUser);
      const inst = await def.create(config);
      instances[key] = inst;
      built.push([key, def, inst]);
    }
  } catch (e) {
    // The factory's error is the one to report; a teardown failure on the way out must not hide it.
    await teardown().catch(() => undefined);
    throw e;
  }
  return { instances, redact, teardown };
}
