import { createHash } from "node:crypto";

/** The manifest's form of a module's content hash: "sha256:<64 hex>". */
export function moduleHashOf(bytes: string | Uint8Array): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}
