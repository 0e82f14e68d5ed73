/**
 * Packaging lint of every publishable package (the same checks as `pnpm --filter
 * @baton/registry-tests check-packages`): the packed file list holds exactly what the package
 * needs, publint --strict is clean, and @arethetypeswrong/cli (esm-only profile) is clean.
 * Needs the packages built; turbo builds them first (`test` depends on `^build`).
 */
import { readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { describe, expect, it } from "vitest";
import { checkPackage, checkPackedFiles, publishablePackages } from "./scripts/check-packages.mjs";

const dirs = publishablePackages();

describe("published package contents", () => {
  it("finds the publishable packages", () => {
    expect(dirs.length).toBeGreaterThanOrEqual(5);
  });

  it("a package ships its one wheel of its own version, no loose module; only core ships templates", () => {
    const airflow = dirs.find((d) => basename(d) === "adapter-airflow")!;
    const version = (JSON.parse(readFileSync(join(airflow, "package.json"), "utf8")) as { version: string }).version;
    const base = ["package.json", "README.md", "LICENSE"];
    const good = checkPackedFiles(airflow, [...base, `python/dist/baton_airflow-${version}-py3-none-any.whl`]);
    expect(good.filter((p) => /wheel|Python|templates/.test(p))).toEqual([]);
    const bad = checkPackedFiles(airflow, [...base, "python/baton_airflow/__init__.py", "python/dist/baton_airflow-0.0.0-py3-none-any.whl", "templates/init/x.ts"]);
    expect(bad).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/unexpected Python file python\/baton_airflow\/__init__\.py/),
        expect.stringMatching(/unexpected Python file python\/dist\/baton_airflow-0\.0\.0/),
        expect.stringMatching(new RegExp(`missing its wheel python/dist/baton_airflow-${version.replace(/\./g, "\\.")}-py3-none-any\\.whl`)),
        expect.stringMatching(/only @baton\/core ships templates/),
      ]),
    );
  });

  it("a package without a Python distribution ships only pin files and single-file scripts in python/", () => {
    const iceberg = dirs.find((d) => basename(d) === "iceberg")!;
    const base = ["package.json", "README.md", "LICENSE"];
    const ok = checkPackedFiles(iceberg, [...base, "python/requirements-readers.txt", "python/read_table.py"]);
    expect(ok.filter((p) => /python\//.test(p))).toEqual([]);
    const bad = checkPackedFiles(iceberg, [...base, "python/readers/__init__.py", "python/notes.md"]);
    expect(bad).toEqual(expect.arrayContaining([expect.stringMatching(/unexpected file python\/readers\/__init__\.py/), expect.stringMatching(/unexpected file python\/notes\.md/)]));
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
