import { readdirSync } from "node:fs";
import { join } from "node:path";

/**
 * The files `npm pack` would publish from a workspace package: package.json, README*, LICENSE*
 * at its root, and what its `files` entries match (a folder entry takes all under it; `!` entries,
 * in order, take matches out again). Without `files`, everything but node_modules and dot-folders.
 * Paths are relative, with "/", sorted.
 */
export function packFiles(dir: string, files: readonly string[] | undefined): string[] {
  const all = listFiles(dir);
  const rules = (files ?? ["**"]).map((entry) => {
    const negated = entry.startsWith("!");
    return { negated, match: globMatcher(entry.slice(negated ? 1 : 0).replace(/^\.\//, "").replace(/\/+$/, "")) };
  });
  return all.filter((file) => {
    if (!file.includes("/") && (file === "package.json" || /^(readme|license|licence)(\..*)?$/i.test(file))) return true;
    let included = false;
    for (const rule of rules) if (rule.match(file)) included = !rule.negated;
    return included;
  });
}

/** Every file under dir (following symlinks to files), skipping node_modules and dot-folders (.git, .turbo). */
function listFiles(dir: string, prefix = ""): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(dir, prefix), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) {
      if (entry.name === "node_modules" || entry.name.startsWith(".")) continue;
      out.push(...listFiles(dir, rel));
    } else if (entry.isFile() || entry.isSymbolicLink()) out.push(rel);
  }
  return out;
}

/** A glob (`*`, `?`, `**`) that matches a path or any folder above it, as npm's `files` does. */
export function globMatcher(glob: string): (path: string) => boolean {
  let source = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === "*" && glob[i + 1] === "*") {
      const slash = glob[i + 2] === "/";
      source += slash ? "(?:.*/)?" : ".*";
      i += slash ? 2 : 1;
    } else if (c === "*") source += "[^/]*";
    else if (c === "?") source += "[^/]";
    else source += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  const re = new RegExp(`^${source}(?:/.*)?$`);
  return (path) => re.test(path);
}
