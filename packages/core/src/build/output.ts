import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { BatonError } from "../errors.js";

/** The marker of a folder a build owns: a previous build may be replaced, anything else is refused. */
export const BUILD_MARKER = join("baton", "build.json");

/**
 * Refuse an OUT that is a file, or a non-empty folder no build wrote: replacing it would delete
 * someone's files.
 */
export function assertReplaceable(out: string): void {
  const stat = statSync(out, { throwIfNoEntry: false });
  if (!stat) return;
  if (!stat.isDirectory()) throw new BatonError("CONFIG", "the output folder is a file", { file: out, hint: "pick another --out, or remove the file" });
  if (readdirSync(out).length > 0 && !existsSync(join(out, BUILD_MARKER))) {
    throw new BatonError("CONFIG", `the output folder is not empty and is not a Baton build (no ${BUILD_MARKER}); a build replaces its folder as a whole`, {
      file: out,
      hint: "pick an empty or new folder for --out, or remove this one first",
    });
  }
}

/**
 * Write a build into a fresh sibling of OUT and swap it in: OUT is the previous build or the new
 * one, never a mix. On any error the temp folder is removed and OUT is untouched.
 */
export async function replaceAtomically(out: string, write: (dir: string) => Promise<void>): Promise<void> {
  assertReplaceable(out);
  const parent = dirname(out);
  mkdirSync(parent, { recursive: true });
  removeStaleOld(parent, basename(out));
  const sibling = (kind: string) => join(parent, `.${basename(out)}.baton-${kind}-${randomBytes(6).toString("hex")}`);
  const tmp = sibling("tmp");
  mkdirSync(tmp);
  try {
    await write(tmp);
    assertReplaceable(out); // again: something may have appeared while the build ran
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  if (!existsSync(out)) {
    renameSync(tmp, out);
    return;
  }
  const old = sibling("old");
  renameSync(out, old);
  try {
    renameSync(tmp, out);
  } catch (e) {
    renameSync(old, out);
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  try {
    rmSync(old, { recursive: true, force: true });
  } catch {
    // The new build is in place; the next build removes what is left of the old one.
  }
}

/** Previous builds a swap could not finish removing (`.<name>.baton-old-*`): never in use, safe to delete. */
function removeStaleOld(parent: string, name: string): void {
  const prefix = `.${name}.baton-old-`;
  for (const entry of readdirSync(parent)) {
    if (entry.startsWith(prefix)) rmSync(join(parent, entry), { recursive: true, force: true });
  }
}
