import type { Manifest } from "@baton/core";

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

// Block document names (BaseBlock documents and Secret blocks): lowercase letters, digits, dashes
// (prefect 3.9.1 prefect/types/names.py: BlockDocumentName, LOWERCASE_LETTERS_NUMBERS_AND_DASHES_ONLY_REGEX).
export const BLOCK_DOCUMENT_NAME = /^[a-z0-9-]+$/;
// Variable names: lowercase letters, digits, '-' and '_', at most 255 (prefect/types/names.py: VariableName).
const VARIABLE_NAME = /^[a-z0-9_-]{1,255}$/;

/** Every problem of a mapping against the manifest: unknown resources or fields, names Prefect refuses, secrets in Variables. */
export function resourceProblems(manifest: Manifest, mapping: PrefectResources): string[] {
  const problems: string[] = [];
  const fail = (problem: string, hint: string) => problems.push(`Prefect resource mapping (--resources): ${problem}; ${hint}`);
  for (const [key, spec] of Object.entries(mapping)) {
    const resource = manifest.resources.find((r) => r.key === key);
    if (!resource) {
      fail(`there is no resource "${key}"`, `map one of: ${manifest.resources.map((r) => r.key).join(", ") || "(none declared)"}`);
      continue;
    }
    if (typeof spec !== "object" || spec === null) {
      fail(`resource "${key}": ${JSON.stringify(spec)} is not a mapping`, 'use { "block": "…", "fields": { … } }');
      continue;
    }
    const unknownKeys = Object.keys(spec).filter((k) => k !== "block" && k !== "fields");
    if (unknownKeys.length) fail(`resource "${key}" has unknown option(s) ${unknownKeys.join(", ")}`, "use block and/or fields");
    if (spec.block !== undefined && (typeof spec.block !== "string" || !BLOCK_DOCUMENT_NAME.test(spec.block))) {
      fail(`resource "${key}": block ${JSON.stringify(spec.block)} is not a block document name`, 'Prefect block names are lowercase letters, digits and dashes, e.g. "warehouse-prod"');
    }
    for (const [field, source] of Object.entries(spec.fields ?? {})) {
      const config = resource.config.find((c) => c.field === field);
      if (!config) {
        fail(`resource "${key}" has no config field "${field}"`, `its fields are: ${resource.config.map((c) => c.field).join(", ")}`);
        continue;
      }
      const kinds = typeof source === "object" && source !== null ? Object.keys(source) : [];
      const kind = kinds[0];
      const name = kind === undefined ? undefined : (source as Record<string, unknown>)[kind];
      if (kinds.length !== 1 || (kind !== "secret" && kind !== "variable" && kind !== "env") || typeof name !== "string" || name === "") {
        fail(`resource "${key}" field "${field}": ${JSON.stringify(source)} is not a source`, 'use { "secret": "block-name" }, { "variable": "name" } or { "env": "VAR" }');
        continue;
      }
      if (kind === "variable" && config.secret) {
        fail(`resource "${key}" field "${field}" is a secret but is mapped to the Variable "${name}"`, "Prefect Variables are not for secrets: use a Secret block or a BatonResource block");
      } else if (kind === "variable" && !VARIABLE_NAME.test(name)) {
        fail(`resource "${key}" field "${field}": "${name}" is not a Prefect Variable name`, "use at most 255 lowercase letters, digits, '-' and '_'");
      } else if (kind === "secret" && !BLOCK_DOCUMENT_NAME.test(name)) {
        fail(`resource "${key}" field "${field}": "${name}" is not a block document name`, 'Prefect block names are lowercase letters, digits and dashes, e.g. "warehouse-password"');
      }
    }
  }
  return problems;
}
