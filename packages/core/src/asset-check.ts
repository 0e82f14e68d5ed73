import { BatonError } from "./errors.js";
import {
  isAssetDefinition,
  isInputSpec,
  resolveInput,
  type AssetContext,
  type AssetDefinition,
  type CheckResult,
  type CheckSeverity,
  type InputRef,
  type InputValues,
  type ResolvedInput,
  type StoredOutput,
} from "./asset.js";
import type { PartitionsDefinition } from "./partitions/types.js";
import { callerLocation } from "./source.js";

/** What a check receives as its target's output: the stored frame, `undefined` for a side-effect asset. */
export type CheckedOutput<A> =
  A extends AssetDefinition<infer O, any, any> ? ([Exclude<StoredOutput<O>, void>] extends [never] ? undefined : Exclude<StoredOutput<O>, void>) : never;
/** The partitions a target declares (what the check's context is typed by). */
export type PartitionsOf<A> = A extends AssetDefinition<any, any, infer P> ? P : PartitionsDefinition | undefined;

export type CheckVerdict = boolean | CheckResult;

export interface AssetCheckConfig<A extends AssetDefinition<any, any, any>, I extends Record<string, InputRef>> {
  /** Unique among the target's checks, inline and standalone. */
  name: string;
  /** The asset it checks (an asset object). */
  asset: A;
  /** Other assets it reads: exactly the shapes an asset's `inputs` take (`input(x, { as, partitionMapping })`). */
  inputs?: I;
  /** `error` (default) fails the check step; `warn` is reported only. */
  severity?: CheckSeverity;
  description?: string;
  /** Runs against the target's stored output, with its own inputs and the target's context. */
  check: (output: CheckedOutput<A>, inputs: InputValues<I>, context: AssetContext<Readonly<Record<string, unknown>>, PartitionsOf<A>>) => CheckVerdict | Promise<CheckVerdict>;
}

/** A standalone check: its own step, against stored outputs (CHECKS-CONTRACT.md). */
export interface AssetCheckDefinition<A extends AssetDefinition<any, any, any> = AssetDefinition<any, any, any>, I extends Record<string, InputRef> = Record<string, InputRef>> {
  readonly kind: "assetCheck";
  readonly name: string;
  /** The target object; `definitions()` collects it. */
  readonly asset: A;
  /** The target's id. */
  readonly assetId: string;
  readonly inputs: readonly ResolvedInput[];
  /** Asset objects named in `inputs`: `definitions()` collects them. */
  readonly inputAssets: readonly AssetDefinition<any, any>[];
  readonly severity: CheckSeverity;
  readonly description: string | undefined;
  readonly check: (output: unknown, inputs: InputValues<I>, context: AssetContext) => CheckVerdict | Promise<CheckVerdict>;
  readonly file: string | undefined;
  readonly line?: number | undefined;
}

export function isAssetCheckDefinition(x: unknown): x is AssetCheckDefinition {
  return typeof x === "object" && x !== null && (x as { kind?: unknown }).kind === "assetCheck";
}

/**
 * Declare a standalone check of an asset, with inputs of its own. It never runs inside its target's
 * materialization: it is its own step, after the target and its inputs, and can run alone (`baton check`).
 */
export function assetCheck<A extends AssetDefinition<any, any, any>, I extends Record<string, InputRef> = Record<never, never>>(
  config: AssetCheckConfig<A, I>,
): AssetCheckDefinition<A, I> {
  const at = callerLocation();
  const file = at?.file;
  const target: unknown = config.asset;
  const name: unknown = config.name;
  const shownName = typeof name === "string" ? name : String(name);
  if (!isAssetDefinition(target)) {
    throw new BatonError("INVALID_DEFINITION", `check "${shownName}": asset is ${typeof target === "string" ? JSON.stringify(target) : typeof target}, not an asset object`, {
      file,
      hint: "pass the asset it checks: assetCheck({ name, asset: orders, check })",
    });
  }
  const owner = (target as AssetDefinition).id;
  if (typeof name !== "string" || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
    throw new BatonError("INVALID_DEFINITION", `check name ${JSON.stringify(name) ?? String(name)} is not an identifier`, {
      asset: owner,
      file,
      hint: "use letters, digits and '_' (it names an orchestrator's check and task)",
    });
  }
  if (typeof config.check !== "function") {
    throw new BatonError("INVALID_DEFINITION", `check "${name}": check is not a function`, { asset: owner, file, hint: "give check: (output, inputs, ctx) => boolean | CheckResult" });
  }
  const severity: unknown = config.severity ?? "error";
  if (severity !== "error" && severity !== "warn") {
    throw new BatonError("INVALID_DEFINITION", `check "${name}" has severity ${JSON.stringify(severity)}`, { asset: owner, file, hint: `use severity: "error" or "warn"` });
  }
  const refs = Object.entries(config.inputs ?? {});
  return {
    kind: "assetCheck",
    name,
    asset: config.asset,
    assetId: owner,
    inputs: refs.map(([n, ref]) => resolveInput(n, ref, owner, file, name)),
    inputAssets: refs.map(([, ref]) => (isInputSpec(ref) ? ref.asset : ref)).filter(isAssetDefinition),
    severity,
    description: config.description,
    // The step passes the inputs the declaration types (InputValues<I>) and the target's context.
    check: config.check as unknown as AssetCheckDefinition<A, I>["check"],
    file,
    line: at?.line,
  };
}
