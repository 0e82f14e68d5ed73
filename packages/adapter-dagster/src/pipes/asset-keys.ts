/**
 * Asset keys travel through Pipes as "escaped user strings": parts joined with `/`, where a
 * backslash inside a part is written `\\` and a slash inside a part `\/`
 * (`AssetKey.to_escaped_user_string` in dagster 1.13). The context's `asset_keys`, the keys of
 * `code_version_by_asset_key`/`provenance_by_asset_key` and the `asset_key` param of reports
 * all use this form.
 */

const ESCAPE_CHARACTER = "\\";
const DELIMITER = "/";

/** An asset key given either as its escaped string (`"a/b"`) or as its parts (`["a", "b"]`). */
export type PipesAssetKeyLike = string | readonly string[];

/**
 * Splits an escaped asset-key string into its parts, exactly like Python's `to_asset_key_path`:
 * unescaped `/` separates parts, `\X` stands for `X`, and a trailing empty part is dropped.
 */
export function toAssetKeyPath(assetKey: string): string[] {
  const parts: string[] = [];
  let current = "";
  let escapeNext = false;
  for (const char of assetKey) {
    if (escapeNext) {
      current += char;
      escapeNext = false;
    } else if (char === ESCAPE_CHARACTER) {
      escapeNext = true;
    } else if (char === DELIMITER) {
      parts.push(current);
      current = "";
    } else {
      current += char;
    }
  }
  if (current) parts.push(current);
  return parts;
}

/** Joins asset-key parts into the escaped string form (inverse of {@link toAssetKeyPath}). */
export function toEscapedAssetKey(path: readonly string[]): string {
  return path
    .map((part) => part.replaceAll(ESCAPE_CHARACTER, "\\\\").replaceAll(DELIMITER, "\\/"))
    .join(DELIMITER);
}

/** Normalises a {@link PipesAssetKeyLike} into the escaped string form used on the wire. */
export function coerceAssetKey(assetKey: PipesAssetKeyLike): string {
  return typeof assetKey === "string" ? assetKey : toEscapedAssetKey(assetKey);
}
