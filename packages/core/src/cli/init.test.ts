import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { BatonError } from "../errors.js";
import { initProject, nextSteps, packageName, polarsBinary, runInit } from "./init.js";
import { runCli } from "./main.js";
import { cleanupTempDirs, tempDir, thrownSync } from "../__tests__/helpers.js";

const CORE = fileURLToPath(new URL("../..", import.meta.url));
const REPO = join(CORE, "..", "..");
const run = promisify(execFile);

afterAll(cleanupTempDirs);

const FILES = [".gitignore", "README.md", "package.json", "src/definitions.ts", "src/logic/totals.test.ts", "src/logic/totals.ts", "tsconfig.json"];

function capture(cwd: string) {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { cwd, env: {}, out: (t: string) => out.push(t), err: (t: string) => err.push(t) }, out, err };
}

describe("baton init", () => {
  it("scaffolds package.json with the baton field, definitions, logic with its test, tsconfig and .gitignore", () => {
    const dir = join(tempDir(), "My Pipeline");
    const result = initProject(dir, { coreVersion: "9.8.7" });
    expect(result.files).toEqual(FILES);
    expect(result.name).toBe("my-pipeline");
    const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
    expect(pkg).toMatchObject({
      name: "my-pipeline",
      type: "module",
      engines: { node: ">=20.19" },
      baton: { definitions: "./src/definitions.ts" },
      dependencies: { "@baton/core": "^9.8.7", "nodejs-polars": "0.25.2", "apache-arrow": "21.2.0" },
      devDependencies: { vitest: "~4.1.0" },
      scripts: { test: "vitest run", materialize: "baton materialize" },
    });
    expect(readFileSync(join(dir, ".gitignore"), "utf8").split("\n")).toEqual(expect.arrayContaining([".baton/", "node_modules/", "build/", "dist/"]));
    expect(readFileSync(join(dir, "README.md"), "utf8")).toMatch(/^# my-pipeline\n/);
    // The seed's rule: logic imports no Baton and no orchestrator.
    expect(readFileSync(join(dir, "src", "logic", "totals.ts"), "utf8")).not.toMatch(/@baton|dagster|airflow|prefect/);
    for (const f of FILES) expect(readFileSync(join(dir, f), "utf8"), f).not.toMatch(/\{\{\w+\}\}/);
  });

  it("defaults @baton/core to the version of the core that scaffolds", () => {
    const dir = join(tempDir(), "app");
    initProject(dir);
    const core = JSON.parse(readFileSync(join(CORE, "package.json"), "utf8")).version;
    expect(JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).dependencies["@baton/core"]).toBe(`^${core}`);
  });

  it("accepts an existing empty folder and refuses a non-empty one, writing nothing", () => {
    const empty = tempDir();
    expect(initProject(empty).files).toEqual(FILES);

    const busy = tempDir();
    writeFileSync(join(busy, "notes.txt"), "mine");
    const e = thrownSync(() => initProject(busy));
    expect(e).toBeInstanceOf(BatonError);
    expect(e.message).toContain(busy);
    expect(e.message).toMatch(/not empty \(notes\.txt\).*fix: name a new or empty folder/s);
    expect(readdirSync(busy)).toEqual(["notes.txt"]);

    const file = join(tempDir(), "file");
    writeFileSync(file, "");
    expect((thrownSync(() => initProject(file)) as Error).message).toMatch(/is not a folder/);
  });

  it("`baton init DIR` works outside any project (never loads definitions) and prints the next steps", async () => {
    const cwd = tempDir();
    const { io, out } = capture(cwd);
    expect(await runCli(["init", "pipeline"], io)).toBe(0);
    expect(existsSync(join(cwd, "pipeline", "src", "definitions.ts"))).toBe(true);
    const text = out.join("\n");
    expect(text).toMatch(/created the Baton project pipeline in pipeline/);
    expect(text).toMatch(/cd pipeline\n/);
    expect(text).toMatch(/npx baton materialize/);
    // A second init into the same folder fails as a Baton error, not a crash.
    await expect(runCli(["init", "pipeline"], io)).rejects.toThrow(/not empty/);
  });

  it("refuses more than one folder with a usage error", () => {
    const { io, err } = capture(tempDir());
    expect(runInit(["a", "b"], io)).toBe(2);
    expect(err.join("\n")).toMatch(/usage: baton init \[DIR\]/);
  });

  it("names the nodejs-polars native package to install on Node < 22 only", () => {
    expect(nextSteps("app", "1.2.3", "20.19.0").join("\n")).toMatch(/npm install nodejs-polars-[a-z0-9]+-[a-z0-9]+(-gnu|-musl|-msvc)?@0\.25\.2/);
    expect(nextSteps("app", "1.2.3", "22.12.0").join("\n")).not.toMatch(/nodejs-polars-/);
    expect(nextSteps(".", "1.2.3", "22.12.0").join("\n")).not.toMatch(/cd /);
    expect(nextSteps(".", "1.2.3", "22.12.0").join("\n")).toMatch(/npm install <baton checkout>\/dist\/baton-core-1\.2\.3\.tgz /);
    expect(polarsBinary("linux", "x64", false)).toBe("nodejs-polars-linux-x64-gnu");
    expect(polarsBinary("linux", "arm64", true)).toBe("nodejs-polars-linux-arm64-musl");
    expect(polarsBinary("darwin", "arm64", false)).toBe("nodejs-polars-darwin-arm64");
    expect(polarsBinary("win32", "x64", false)).toBe("nodejs-polars-win32-x64-msvc");
  });

  it("derives a valid npm name from any folder name", () => {
    expect(packageName("My Pipeline")).toBe("my-pipeline");
    expect(packageName(".hidden_thing")).toBe("hidden_thing");
    expect(packageName("___")).toBe("baton-project");
  });
});

describe("the scaffolded project", () => {
  /** The scaffold with its dependencies linked in, as an install would put them (core's dist). */
  function installed(): string {
    const dir = join(tempDir(), "scaffold");
    initProject(dir);
    mkdirSync(join(dir, "node_modules", "@baton"), { recursive: true });
    symlinkSync(CORE, join(dir, "node_modules", "@baton", "core"), "dir");
    for (const dep of ["nodejs-polars", "apache-arrow"]) symlinkSync(join(CORE, "node_modules", dep), join(dir, "node_modules", dep), "dir");
    symlinkSync(join(REPO, "node_modules", "vitest"), join(dir, "node_modules", "vitest"), "dir");
    return dir;
  }

  it("typechecks under strict TypeScript, passes its own unit test and materializes both assets", async () => {
    const dir = installed();
    await run(process.execPath, [join(REPO, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.json"], { cwd: dir });

    const tests = await run(process.execPath, [join(REPO, "node_modules", "vitest", "vitest.mjs"), "run"], { cwd: dir, env: { ...process.env, CI: "1", NO_COLOR: "1" } });
    expect(tests.stdout).toMatch(/1 passed/);

    const { io, out } = capture(dir);
    const storage = join(dir, ".baton", "storage");
    expect(await runCli(["materialize", "--json"], { ...io, env: { BATON_STORAGE: storage } })).toBe(0);
    const result = JSON.parse(out.join("\n")) as { status: string; assets: Record<string, { status: string }> };
    expect(result.status).toBe("success");
    expect(Object.keys(result.assets).sort()).toEqual(["customer_totals", "orders"]);
    const record = JSON.parse(readFileSync(join(storage, "customer_totals", "__unpartitioned__", "record.json"), "utf8")) as { rowCount: number };
    expect(record.rowCount).toBe(3);
  }, 180_000);
});
