import type { AssetContext, AssetKey, AssetKeyLike, CheckSeverity, MetadataValue } from "@baton/core/authoring";

/*
 * The shapes of core's assetGroup this package builds against (G1.md), kept local until core exports them.
 */

export interface GroupCheckSpecLike {
  readonly name: string;
  readonly severity?: CheckSeverity;
  readonly description?: string;
  readonly deps?: readonly AssetKeyLike[];
}

export interface GroupSpecLike {
  readonly key: AssetKeyLike;
  readonly deps?: readonly AssetKeyLike[];
  readonly group?: string;
  readonly description?: string;
  readonly owners?: readonly string[];
  readonly tags?: Readonly<Record<string, string>>;
  readonly metadata?: Readonly<Record<string, MetadataValue>>;
  readonly kinds?: readonly string[];
  readonly codeVersion?: string;
  readonly output?: "table" | "none";
  readonly checks?: readonly GroupCheckSpecLike[];
}

export type GroupContextLike = AssetContext & {
  readonly selected: readonly AssetKey[];
  readonly selectedChecks: readonly { readonly asset: AssetKey; readonly name: string }[];
  inputFile(key: AssetKeyLike): Promise<string>;
  outputFile(key: AssetKeyLike): string;
};

export interface GroupCheckResult {
  readonly asset: AssetKey;
  readonly name: string;
  readonly passed: boolean;
  readonly severity?: CheckSeverity;
  readonly description?: string;
  readonly metadata?: Readonly<Record<string, MetadataValue>>;
}

export interface GroupResultLike {
  readonly materializations: readonly { readonly key: AssetKey; readonly metadata?: Readonly<Record<string, MetadataValue>> }[];
  readonly checks: readonly GroupCheckResult[];
  readonly failures: readonly { readonly key: AssetKey; readonly error: Error }[];
}
