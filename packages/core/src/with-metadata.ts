import type * as pl from "nodejs-polars";
import type { Table } from "apache-arrow";
import type { MetadataValue } from "./asset.js";
import { BatonError } from "./errors.js";

// A registered symbol: an output made by another copy of @baton/core (a bundle's) is recognised too.
const BRAND: unique symbol = Symbol.for("baton.withMetadata");

/** What a compute returns to store a frame and add metadata to its materialization. */
export interface OutputWithMetadata<F extends pl.DataFrame | Table | void = pl.DataFrame | Table | void> {
  readonly [BRAND]: true;
  readonly data: F;
  readonly metadata: Readonly<Record<string, MetadataValue>>;
}

/**
 * Return a frame (or nothing, from an `output: "none"` asset) with metadata for this
 * materialization: `return withMetadata(frame, { rows_dropped: 3 })`. The frame is stored as if
 * returned alone and the checks see it; the metadata joins the materialization's metadata on
 * every runtime (over the asset's declared `metadata` on the same key). Values are JSON: strings,
 * finite numbers, booleans, null, arrays and objects of those.
 */
export function withMetadata<F extends pl.DataFrame | Table | void>(data: F, metadata: Record<string, MetadataValue>): OutputWithMetadata<F> {
  return Object.freeze({ [BRAND]: true as const, data, metadata });
}

export function isOutputWithMetadata(x: unknown): x is OutputWithMetadata {
  return typeof x === "object" && x !== null && (x as { [BRAND]?: unknown })[BRAND] === true;
}

/** A compute's result split into what is stored and the metadata it adds (checked to be JSON). */
export function unwrapOutput(output: unknown, assetId: string, fileOf: () => string | undefined = () => undefined): { data: unknown; metadata: Readonly<Record<string, MetadataValue>> } {
  if (!isOutputWithMetadata(output)) return { data: output, metadata: {} };
  const { metadata } = output;
  const file = fileOf();
  if (typeof metadata !== "object" || metadata === null || Array.isArray(metadata)) {
    throw new BatonError("WRONG_OUTPUT_TYPE", `withMetadata() was given ${Array.isArray(metadata) ? "an array" : String(metadata)} as metadata, not an object`, {
      asset: assetId,
      ...(file !== undefined ? { file } : {}),
      hint: "pass an object: withMetadata(frame, { rows_dropped: 3 })",
    });
  }
  for (const [k, v] of Object.entries(metadata)) {
    const bad = notJson(v, k);
    if (bad) {
      throw new BatonError("WRONG_OUTPUT_TYPE", `withMetadata(): metadata "${bad.path}" is ${bad.what}, not a JSON value`, {
        asset: assetId,
        ...(file !== undefined ? { file } : {}),
        hint: "use strings, finite numbers, booleans, null, arrays and plain objects (convert dates with .toISOString(), bigints with Number() or String())",
      });
    }
  }
  return { data: output.data, metadata };
}

function notJson(v: unknown, path: string, depth = 0): { path: string; what: string } | undefined {
  if (v === null || typeof v === "string" || typeof v === "boolean") return undefined;
  if (typeof v === "number") return Number.isFinite(v) ? undefined : { path, what: String(v) };
  if (depth > 32) return { path, what: "nested too deeply" };
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const bad = notJson(v[i], `${path}[${i}]`, depth + 1);
      if (bad) return bad;
    }
    return undefined;
  }
  if (typeof v === "object" && (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null)) {
    for (const [k, x] of Object.entries(v)) {
      const bad = notJson(x, `${path}.${k}`, depth + 1);
      if (bad) return bad;
    }
    return undefined;
  }
  const what = typeof v === "object" ? `an object (${(v as object).constructor?.name ?? "Object"})` : v === undefined ? "undefined" : `a ${typeof v}`;
  return { path, what };
}
