/**
 * Packaging lint of every publishable package (the same checks as `pnpm --filter
 * @baton/registry-tests check-packages`): the packed file list holds exactly what the package
 * needs, publint --strict is clean, and @arethetypeswrong/cli (esm-only profile) is clean.
 * Needs the packages built; turbo builds them first (`test` depends on `^build`).
 */
import { basename } from "node:path";
import { describe, expect, it } from "vitest";
import { checkPackage, publishablePackages } from "./scripts/check-packages.mjs";

const dirs = publishablePackages();

describe("published package contents", () => {
  it("finds the publishable packages", () => {
    expect(dirs.length).toBeGreaterThanOrEqual(5);
  });

  for (const dir of dirs) {
    it(`${basename(dir)}: files, publint and attw are clean`, async () => {
      const r = await checkPackage(dir);
      expect(r.problems, `${r.name}: packed files`).toEqual([]);
      expect(r.publint.ok, `${r.name}: publint\n${r.publint.output}`).toBe(true);
      expect(r.attw.ok, `${r.name}: attw\n${r.attw.output}`).toBe(true);
    }, 120_000);
  }
});
