import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";
import { afterAll, describe, expect, it } from "vitest";
import * as authoring from "./authoring.js";
import * as root from "./index.js";

const here = dirname(fileURLToPath(import.meta.url));
const packageRoot = join(here, "..");
const HEAVY = /^(esbuild|tsx|ajv)(\/|$)/;

// The module graph of the authoring entry, its packages left as imports (what Node would load).
const bundled = build({
  entryPoints: [join(here, "authoring.ts")],
  bundle: true,
  packages: "external",
  platform: "node",
  format: "esm",
  write: false,
  metafile: true,
  logLevel: "silent",
});

const made: string[] = [];
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

describe("@baton/core/authoring", () => {
  it("imports no esbuild, tsx or ajv, statically or dynamically, through any module it reaches", async () => {
    const { metafile } = await bundled;
    const packages = Object.values(metafile.inputs).flatMap((i) => i.imports.filter((imp) => imp.external).map((imp) => imp.path));
    expect(packages.filter((p) => HEAVY.test(p))).toEqual([]);
    // The graph is what we think it is: the authoring modules, a few small packages.
    expect(Object.keys(metafile.inputs)).toContain("src/selection.ts");
    expect(Object.keys(metafile.inputs).some((f) => /\/(cli|build|step|executor|manifest|worker)\//.test(f))).toBe(false);
  });

  it("loads in a Node process where esbuild, tsx and ajv cannot be resolved", async () => {
    const { outputFiles } = await bundled;
    // Inside the package, so the bundle's package imports resolve from its node_modules.
    const dir = mkdtempSync(join(packageRoot, "node_modules", ".authoring-test-"));
    made.push(dir);
    const bundle = join(dir, "authoring.mjs");
    writeFileSync(bundle, outputFiles[0]!.text);
    const hook = `export async function resolve(s, c, next) { if (${HEAVY}.test(s)) throw new Error("blocked import " + s); return next(s, c); }`;
    const setup = `import { register } from "node:module"; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hook)}`)});`;
    const script = [
      `const m = await import(${JSON.stringify(pathToFileURL(bundle).href)});`,
      // The block is real: ajv itself cannot be imported here.
      `let blocked = ""; try { await import("ajv"); } catch (e) { blocked = String(e.message); }`,
      `console.log(JSON.stringify({ exports: Object.keys(m).sort(), blocked }));`,
    ].join("\n");
    const out = execFileSync(process.execPath, ["--import", `data:text/javascript,${encodeURIComponent(setup)}`, "--input-type=module", "-e", script], {
      cwd: packageRoot,
      encoding: "utf8",
      timeout: 60_000,
    });
    const { exports, blocked } = JSON.parse(out) as { exports: string[]; blocked: string };
    expect(blocked).toContain("blocked import ajv");
    expect(exports).toEqual(expect.arrayContaining(["asset", "input", "resource", "env", "secret", "dailyPartitions", "staticPartitions", "schedule", "sensor", "definitions", "upstream", "downstream", "group", "tag", "key", "withMetadata"]));
  });

  it("exports the authoring API only, each value the same object as the root export", () => {
    const names = Object.keys(authoring);
    expect(names.length).toBeLessThan(31);
    const rootValues = root as Record<string, unknown>;
    const own = authoring as Record<string, unknown>;
    const missing = names.filter((n) => rootValues[n] !== own[n]);
    expect(missing).toEqual([]);
  });
});
