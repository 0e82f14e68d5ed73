import { BatonError } from "./errors.js";

/** Where one config field's value comes from. Only the variable name ever leaves the process. */
export interface ConfigSource {
  readonly env: string;
  readonly secret: boolean;
  readonly default?: string;
  readonly description?: string;
}

export function env(name: string, options: { default?: string; description?: string } = {}): ConfigSource {
  return { env: name, secret: false, ...options };
}

/** A secret field: never written to the manifest, generated code, logs or events. */
export function secret(name: string, options: { description?: string } = {}): ConfigSource {
  return { env: name, secret: true, ...options };
}

export type ConfigSchema = Readonly<Record<string, ConfigSource>>;
export type ConfigValues<S extends ConfigSchema> = { readonly [K in keyof S]: string };

export interface ResourceDefinition<T = unknown, S extends ConfigSchema = ConfigSchema> {
  readonly kind: "resource";
  readonly description: string | undefined;
  readonly config: S;
  readonly create: (config: ConfigValues<S>) => T | Promise<T>;
  readonly teardown: ((client: T) => void | Promise<void>) | undefined;
}

/**
 * A resource is a typed client (the interface is the contract) built from config. Config comes
 * from environment variables, which every orchestrator can fill from its own secret store.
 */
export function resource<T, S extends ConfigSchema = Record<never, never>>(definition: {
  config?: S;
  create: (config: ConfigValues<S>) => T | Promise<T>;
  teardown?: (client: T) => void | Promise<void>;
  description?: string;
}): ResourceDefinition<T, S> {
  return {
    kind: "resource",
    description: definition.description,
    config: (definition.config ?? {}) as S,
    create: definition.create,
    teardown: definition.teardown,
  };
}

/** Read a resource's config from an environment; every missing variable is named in one error. */
export function resolveConfig<S extends ConfigSchema>(
  resourceKey: string,
  schema: S,
  environment: Readonly<Record<string, string | undefined>>,
  neededBy?: string,
): ConfigValues<S> {
  const values: Record<string, string> = {};
  const missing: string[] = [];
  for (const [field, source] of Object.entries(schema)) {
    const value = environment[source.env] ?? source.default;
    if (value === undefined || value === "") missing.push(`${source.env} (field "${field}"${source.secret ? ", secret" : ""})`);
    else values[field] = value;
  }
  if (missing.length > 0) {
    throw new BatonError("MISSING_ENV", `resource "${resourceKey}" needs environment variable${missing.length > 1 ? "s" : ""} ${missing.join(", ")}`, {
      ...(neededBy !== undefined ? { asset: neededBy } : {}),
      hint: `set ${missing.map((m) => m.split(" ")[0]).join(", ")} in the environment of the run (or map it from your orchestrator's connection/block/secret)`,
    });
  }
  return values as ConfigValues<S>;
}

/** Text values a log line must never show: the resolved secret fields of these resources. */
export function secretValues(resources: Iterable<ResourceDefinition>, environment: Readonly<Record<string, string | undefined>>): string[] {
  const out: string[] = [];
  for (const r of resources) {
    for (const source of Object.values(r.config)) {
      const v = environment[source.env];
      if (source.secret && v) out.push(v);
    }
  }
  return out;
}
