import { execFile } from "node:child_process";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BatonError, BatonValidationError } from "./errors.js";
import { isBatonError, isBatonValidationError, isExplainedError } from "./is-baton-error.js";
import { BatonStorageError } from "./io/store.js";
import { callerFile, callerLocation } from "./source.js";
import { cleanupTempDirs, tempDir } from "./__tests__/helpers.js";

const CORE = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");
const THIS_FILE = fileURLToPath(import.meta.url);
const run = promisify(execFile);

describe("callerLocation (issue 10, defect 9: errors name the user's file and line)", () => {
  it("skips core's src and dist, node_modules and loader queries, whichever core runs from", () => {
    const stack = [
      "Error",
      `    at callerLocation (file://${CORE}/dist/source.js:30:15)`,
      // Under tsx, or with source maps on, the compiled core's frames are reported at src/.
      `    at callerFile (${CORE}/src/source.ts:50:10)`,
      `    at asset (${CORE}/src/asset.ts:171:16)`,
      `    at checked (${CORE}/dist/partitions/define.js:160:21)`,
      "    at staticPartitions (/proj/node_modules/@baton/core/dist/partitions/define.js:3:3)",
      "    at new Promise (<anonymous>)",
      "    at file:///proj/src/defs.ts?tsx-namespace=1733153:12:16",
      "    at ModuleJob.run (node:internal/modules/esm/module_job:325:25)",
    ].join("\n");
    expect(callerLocation(stack)).toEqual({ file: "/proj/src/defs.ts", line: 12, column: 16 });
    // Core's own tests declare assets like any user file.
    expect(callerLocation(`Error\n    at asset (${CORE}/src/asset.ts:1:1)\n    at <anonymous> (${CORE}/src/asset.test.ts:7:3)`)).toEqual({ file: `${CORE}/src/asset.test.ts`, line: 7, column: 3 });
    expect(callerLocation(`Error\n    at asset (${CORE}/src/asset.ts:1:1)\n    at x (node:internal/x:1:1)`)).toBeUndefined();
    expect(callerFile()).toBe(THIS_FILE);
  });
});

describe("isBatonError and friends recognise errors from another instance of core", () => {
  it("by name and shape, not instanceof", () => {
    const local = new BatonError("CONFIG", "p", { hint: "h" });
    // What an error thrown by another module instance of core looks like from here.
    const foreign = Object.assign(new Error("asset \"a\": p"), { name: "BatonError", code: "CONFIG", problem: "p", hint: "h" });
    const foreignValidation = Object.assign(new Error("1 problem"), { name: "BatonValidationError", errors: [foreign] });
    expect(foreign instanceof BatonError).toBe(false);
    expect([isBatonError(local), isBatonError(foreign), isBatonError(new Error("x")), isBatonError(null), isBatonError({ name: "BatonError" })]).toEqual([true, true, false, false, false]);
    expect([isBatonValidationError(new BatonValidationError([local])), isBatonValidationError(foreignValidation), isBatonValidationError(foreign)]).toEqual([true, true, false]);
    const storage = new BatonStorageError("write", "/s/x", Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" }), "/s");
    expect([isExplainedError(local), isExplainedError(foreignValidation), isExplainedError(storage), isExplainedError(new TypeError("x"))]).toEqual([true, true, true, false]);
  });
});

/*
 * End to end, through core's dist as a project outside the repo links it (the workspace example's
 * situation): run `dist/` after `pnpm --filter @baton/core build`.
 */
describe("errors name the user's TypeScript file and line, from source (tsx) and from the compiled bundle", () => {
  let project: string;
  const defsFile = () => join(project, "src", "defs.ts");
  beforeAll(() => {
    project = tempDir();
    mkdirSync(join(project, "node_modules", "@baton"), { recursive: true });
    mkdirSync(join(project, "src"));
    symlinkSync(CORE, join(project, "node_modules", "@baton", "core"), "dir");
    symlinkSync(join(CORE, "node_modules", "nodejs-polars"), join(project, "node_modules", "nodejs-polars"), "dir");
    writeFileSync(join(project, "package.json"), JSON.stringify({ name: "probe", type: "module", baton: { definitions: "./src/defs.ts" } }));
  });
  afterAll(cleanupTempDirs);

  /** Run a script in the project with core's dist, printing one JSON line. */
  async function inProject(script: string): Promise<Record<string, unknown>> {
    const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script], { cwd: project, encoding: "utf8" });
    return JSON.parse(stdout.trim().split("\n").pop()!) as Record<string, unknown>;
  }

  it("a definitions() error under tsx names the user's file (not packages/core/src/source.ts), and is recognisable across instances", async () => {
    writeFileSync(
      defsFile(),
      [
        'import pl from "nodejs-polars";',
        'import { asset, definitions } from "@baton/core";',
        "",
        'const a = asset({ key: "orders", compute: () => pl.DataFrame({ x: [1] }) });',
        'const b = asset({ key: "orders", compute: () => pl.DataFrame({ x: [2] }) });',
        "export default definitions({ assets: [a, b] });",
        "",
      ].join("\n"),
    );
    const out = await inProject(`
      import { loadDefinitions } from ${JSON.stringify(`${CORE}/dist/load.js`)};
      import { BatonValidationError } from ${JSON.stringify(`${CORE}/dist/errors.js`)};
      import { isBatonValidationError } from ${JSON.stringify(`${CORE}/dist/is-baton-error.js`)};
      try { await loadDefinitions("src/defs.ts"); console.log("{}"); }
      catch (e) { console.log(JSON.stringify({ file: e.errors?.[0]?.file, message: e.message, instance: e instanceof BatonValidationError, recognised: isBatonValidationError(e) })); }`);
    // Line 5 declares the second "orders", line 4 the first.
    expect(out.file).toBe(`${defsFile()}:5`);
    expect(out.message).toContain(`asset "orders" (${defsFile()}:5): the key is declared twice (also at ${defsFile()}:4)`);
    expect(out.message).not.toContain("packages/core");
    // The reason the CLI printed "✘ BatonValidationError:" with a stack: tsx loads the user's
    // module, and the core it imports, in a namespace of their own.
    expect(out.recognised).toBe(true);
    expect(typeof out.instance).toBe("boolean");
  });

  it("from the compiled bundle (orchestrated steps), asset.file and a crash inside compute name the .ts file and line", async () => {
    writeFileSync(
      defsFile(),
      [
        'import pl from "nodejs-polars";',
        'import { asset, definitions } from "@baton/core";',
        "",
        "const orders = asset({",
        '  key: "orders",',
        "  compute: () => pl.DataFrame({ x: [1] }),",
        "});",
        "const broken = asset({",
        '  key: "broken",',
        "  inputs: { orders },",
        "  // A destructuring typo: ordrs is undefined.",
        "  compute: ({ ordrs }: any) => ordrs.filter(pl.col(\"x\").gt(0)),",
        "});",
        "export default definitions({ assets: [orders, broken] });",
        "",
      ].join("\n"),
    );
    const out = await inProject(`
      import { compileDefinitions } from ${JSON.stringify(`${CORE}/dist/cli/compile.js`)};
      import { loadDefinitions } from ${JSON.stringify(`${CORE}/dist/load.js`)};
      import { existsSync } from "node:fs";
      const bundle = await compileDefinitions({ root: process.cwd(), definitions: ${JSON.stringify(defsFile())}, exportName: "default" });
      const defs = await loadDefinitions(bundle);
      let stack = "";
      try { await defs.asset("broken").compute({}, {}); } catch (e) { stack = e.stack; }
      console.log(JSON.stringify({ bundle, map: existsSync(bundle + ".map"), file: defs.asset("broken").file, line: defs.asset("broken").line, stack }));`);
    expect(out.bundle).toBe(join(project, ".baton", "build", "definitions.mjs"));
    expect(out.map).toBe(true);
    expect(out.file).toBe(defsFile());
    expect(out.line).toBe(8);
    expect(out.stack).toContain("TypeError");
    expect(out.stack).toContain(`${defsFile()}:12:`);
    expect(out.stack).not.toContain("definitions.mjs");
  });
});

describe("withoutSourceMaps", () => {
  it("turns source maps off for the load only, and leaves them as they were", async () => {
    const { withoutSourceMaps } = await import("./source.js");
    const before = process.sourceMapsEnabled;
    try {
      process.setSourceMapsEnabled(true);
      const during = await withoutSourceMaps(async () => process.sourceMapsEnabled);
      expect([during, process.sourceMapsEnabled]).toEqual([false, true]);
      await expect(withoutSourceMaps(() => Promise.reject(new Error("load failed")))).rejects.toThrow("load failed");
      expect(process.sourceMapsEnabled).toBe(true);
      process.setSourceMapsEnabled(false);
      expect(await withoutSourceMaps(async () => process.sourceMapsEnabled)).toBe(false);
      expect(process.sourceMapsEnabled).toBe(false);
    } finally {
      process.setSourceMapsEnabled(before);
    }
  });
});
