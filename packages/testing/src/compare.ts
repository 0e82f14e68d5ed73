import { lstatSync, readFileSync, readdirSync, readlinkSync, type Stats } from "node:fs";
import { join } from "node:path";

function kind(stat: Stats): string {
  if (stat.isSymbolicLink()) return "symlink";
  if (stat.isDirectory()) return "folder";
  if (stat.isFile()) return "file";
  return "special file";
}

function entries(dir: string): string[] {
  return readdirSync(dir).sort();
}

/** Where two byte strings first differ, for a message a person can act on. */
function firstDifference(a: Buffer, b: Buffer): string {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  const line = a.subarray(0, i).toString("latin1").split("\n").length;
  const sizes = a.length === b.length ? `${a.length} bytes each` : `${a.length} vs ${b.length} bytes`;
  return `bytes differ from byte ${i} (line ${line}; ${sizes})`;
}

function walk(a: string, b: string, rel: string, out: string[]): void {
  const left = new Set(entries(join(a, rel)));
  const right = new Set(entries(join(b, rel)));
  for (const name of [...new Set([...left, ...right])].sort()) {
    const path = rel ? `${rel}/${name}` : name;
    if (!right.has(name)) {
      out.push(`${path}: only in the first folder`);
      continue;
    }
    if (!left.has(name)) {
      out.push(`${path}: only in the second folder`);
      continue;
    }
    const sa = lstatSync(join(a, path));
    const sb = lstatSync(join(b, path));
    if (kind(sa) !== kind(sb)) {
      out.push(`${path}: a ${kind(sa)} in the first folder, a ${kind(sb)} in the second`);
      continue;
    }
    // permission bits matter to a deployment (an executable step bin); owners and times do not
    if ((sa.mode & 0o7777) !== (sb.mode & 0o7777)) out.push(`${path}: mode ${(sa.mode & 0o7777).toString(8)} vs ${(sb.mode & 0o7777).toString(8)}`);
    if (sa.isSymbolicLink()) {
      const ta = readlinkSync(join(a, path));
      const tb = readlinkSync(join(b, path));
      if (ta !== tb) out.push(`${path}: symlink to ${ta} vs ${tb}`);
    } else if (sa.isDirectory()) {
      walk(a, b, path, out);
    } else if (sa.isFile()) {
      const ba = readFileSync(join(a, path));
      const bb = readFileSync(join(b, path));
      if (!ba.equals(bb)) out.push(`${path}: ${firstDifference(ba, bb)}`);
    }
  }
}

/**
 * Every difference between two folders — names, kinds, bytes, symlink targets, permission bits —
 * as "<relative path>: <what>", sorted by path. Empty when they are byte-identical: what a
 * determinism test asserts of two builds of the same sources.
 */
export function compareFolders(a: string, b: string): string[] {
  const out: string[] = [];
  walk(a, b, "", out);
  return out;
}
