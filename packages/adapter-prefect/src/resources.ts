import { BatonError, type Manifest } from "@baton/core";

/** Where Prefect keeps one config value: a Secret block, a Variable, or the worker's environment. */
export type PrefectValueSource = { readonly secret: string } | { readonly variable: string } | { readonly env: string };

/**
 * Where Prefect keeps one Baton resource's config. `block` names a `BatonResource` block document
 * (values and secrets by config field); `fields` maps single fields and wins over the block.
 * Fields mapped nowhere are read from the worker's environment, under the manifest's variable names.
 */
export interface PrefectResourceMapping {
  readonly block?: string;
  readonly fields?: Readonly<Record<string, PrefectValueSource>>;
}

export type PrefectResources = Readonly<Record<string, PrefectResourceMapping>>;

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const VARIABLE = /^[a-z0-9_-]{1,255}$/;

/** Check a mapping against the manifest: unknown resources or fields, secrets in Variables. */
export function checkResources(manifest: Manifest, mapping: PrefectResources): void {
  const fail = (problem: string, hint: string) => {
    throw new BatonError("CONFIG", `Prefect resource mapping: ${problem}`, { hint });
  };
  for (const [key, spec] of Object.entries(mapping)) {
    const resource = manifest.resources.find((r) => r.key === key);
    if (!resource) fail(`there is no resource "${key}"`, `map one of: ${manifest.resources.map((r) => r.key).join(", ") || "(none declared)"}`);
    const unknownKeys = Object.keys(spec).filter((k) => k !== "block" && k !== "fields");
    if (unknownKeys.length) fail(`resource "${key}" has unknown option(s) ${unknownKeys.join(", ")}`, "use block and/or fields");
    if (spec.block !== undefined && (typeof spec.block !== "string" || !NAME.test(spec.block))) {
      fail(`resource "${key}": block ${JSON.stringify(spec.block)} is not a block document name`, 'name a BatonResource block document, e.g. "warehouse-prod"');
    }
    for (const [field, source] of Object.entries(spec.fields ?? {})) {
      const config = resource!.config.find((c) => c.field === field);
      if (!config) fail(`resource "${key}" has no config field "${field}"`, `its fields are: ${resource!.config.map((c) => c.field).join(", ")}`);
      const kinds = Object.keys(source);
      const kind = kinds[0];
      const name = kind === undefined ? undefined : (source as Record<string, unknown>)[kind];
      if (kinds.length !== 1 || (kind !== "secret" && kind !== "variable" && kind !== "env") || typeof name !== "string" || name === "") {
        fail(`resource "${key}" field "${field}": ${JSON.stringify(source)} is not a source`, 'use { secret: "block-name" }, { variable: "name" } or { env: "VAR" }');
      }
      if (kind === "variable" && config!.secret) {
        fail(`resource "${key}" field "${field}" is a secret but is mapped to the Variable "${String(name)}"`, "Prefect Variables are not for secrets: use a Secret block or a BatonResource block");
      }
      if (kind === "variable" && !VARIABLE.test(String(name))) {
        fail(`resource "${key}" field "${field}": "${String(name)}" is not a Prefect Variable name`, "use lowercase letters, digits, '-' and '_'");
      }
      if (kind === "secret" && !NAME.test(String(name))) {
        fail(`resource "${key}" field "${field}": "${String(name)}" is not a block document name`, 'name a Secret block document, e.g. "warehouse-password"');
      }
    }
  }
}

/** The mapping with keys in a stable order, so the generated code is byte-identical across builds. */
export function sortedResources(mapping: PrefectResources): Record<string, Record<string, unknown>> {
  return Object.fromEntries(
    Object.keys(mapping)
      .sort()
      .map((key) => {
        const spec = mapping[key]!;
        const fields = spec.fields ? Object.fromEntries(Object.keys(spec.fields).sort().map((f) => [f, spec.fields![f]])) : undefined;
        return [key, { ...(spec.block !== undefined ? { block: spec.block } : {}), ...(fields ? { fields } : {}) }];
      }),
  );
}
