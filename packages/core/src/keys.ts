import { BatonError } from "./errors.js";

/** An asset key is a path: `["sales", "orders"]`. Its string form joins the parts with `/`. */
export type AssetKey = readonly string[];
/** Accepted wherever a key is written by hand: `"sales/orders"` or `["sales", "orders"]`. */
export type AssetKeyLike = string | readonly string[];

const PART = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

export function toAssetKey(key: AssetKeyLike): string[] {
  const parts = typeof key === "string" ? key.split("/") : [...key];
  if (parts.length === 0 || parts.some((p) => !PART.test(p))) {
    throw new BatonError("INVALID_KEY", `invalid asset key ${JSON.stringify(key)}`, {
      hint: "use one or more path parts made of letters, digits, '_', '.' or '-' (not starting with '.' or '-'), e.g. \"sales/orders\" or [\"sales\", \"orders\"]",
    });
  }
  return parts;
}

export function keyToString(key: AssetKey): string {
  return key.join("/");
}
