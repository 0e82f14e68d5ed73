import { chmodSync, cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { compareFolders } from "./compare.js";

let root: string;
let a: string;
let b: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "baton-compare-"));
  a = join(root, "a");
  mkdirSync(join(a, "baton", "runtime"), { recursive: true });
  writeFileSync(join(a, "baton", "manifest.json"), '{"manifestVersion":2}\n');
  chmodSync(join(a, "baton", "manifest.json"), 0o644);
  writeFileSync(join(a, "baton", "runtime", "definitions-0123.mjs"), "export default {};\n");
  symlinkSync("definitions-0123.mjs", join(a, "baton", "runtime", "current.mjs"));
  b = join(root, "b");
  cpSync(a, b, { recursive: true, verbatimSymlinks: true });
});

afterEach(() => rmSync(root, { recursive: true, force: true }));

describe("compareFolders", () => {
  it("is empty for byte-identical folders", () => {
    expect(compareFolders(a, b)).toEqual([]);
  });

  it("finds a one-byte change and says where", () => {
    writeFileSync(join(b, "baton", "manifest.json"), '{"manifestVersion":3}\n');
    expect(compareFolders(a, b)).toEqual(["baton/manifest.json: bytes differ from byte 19 (line 1; 22 bytes each)"]);
  });

  it("finds names only on one side, a changed symlink target, a kind and a mode change", () => {
    writeFileSync(join(b, "extra.txt"), "x");
    rmSync(join(b, "baton", "runtime", "definitions-0123.mjs"));
    mkdirSync(join(b, "baton", "runtime", "definitions-0123.mjs"));
    unlinkSync(join(b, "baton", "runtime", "current.mjs"));
    symlinkSync("definitions-4567.mjs", join(b, "baton", "runtime", "current.mjs"));
    chmodSync(join(b, "baton", "manifest.json"), 0o755);
    expect(compareFolders(a, b)).toEqual([
      "baton/manifest.json: mode 644 vs 755",
      "baton/runtime/current.mjs: symlink to definitions-0123.mjs vs definitions-4567.mjs",
      "baton/runtime/definitions-0123.mjs: a file in the first folder, a folder in the second",
      "extra.txt: only in the second folder",
    ]);
  });
});
