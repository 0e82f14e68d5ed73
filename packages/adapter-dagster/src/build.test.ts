import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { asset, corePythonModuleDir, definitions, loadDefinitions, resource, env, type Manifest } from "@baton/core";
import pl from "nodejs-polars";
import { fixtureModulePath } from "@baton/testing/fixtures";
import { buildDagsterProject, dagsterStepEntryPath } from "./build.js";
import { run } from "./cli.js";
import { dagsterProblems } from "./translate.js";
import { ACCEPTED_MANIFEST_VERSIONS } from "./versions.js";

const fixtureModule = fixtureModulePath();
const tmp = () => mkdtempSync(join(tmpdir(), "baton-dagster-build-"));

function readTree(dir: string, prefix = ""): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (e.isDirectory()) Object.assign(out, readTree(join(dir, e.name), `${prefix}${e.name}/`));
    else out[`${prefix}${e.name}`] = readFileSync(join(dir, e.name), "utf8");
  }
  return out;
}

describe("buildDagsterProject", () => {
  it("writes the manifest, the baton_dagster and baton_core modules and definitions.py", async () => {
    const defs = await loadDefinitions(fixtureModule, "default");
    const out = tmp();
    const project = buildDagsterProject({ definitions: defs, module: fixtureModule, outDir: out });
    const coreModules = readdirSync(corePythonModuleDir).filter((f) => f.endsWith(".py")).sort().map((f) => `baton_core/${f}`);
    expect(project.files).toEqual([
      ...coreModules,
      "baton_dagster/__init__.py",
      "baton_dagster/assets.py",
      "baton_dagster/automation.py",
      "baton_dagster/definitions.py",
      "baton_dagster/manifest.py",
      "baton_dagster/node.py",
      "baton_dagster/partitions.py",
      "baton_dagster/resources.py",
      "baton_dagster/step.py",
      "definitions.py",
      "manifest.json",
      "pyproject.toml",
    ]);
    const manifest = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8"));
    expect(ACCEPTED_MANIFEST_VERSIONS).toContain(manifest.manifestVersion);
    // Paths are relative to the project, and the step entry is this adapter's, not core's.
    expect(resolve(out, manifest.runtime.stepEntry)).toBe(dagsterStepEntryPath);
    expect(resolve(out, manifest.runtime.module)).toBe(fixtureModule);
    expect(readFileSync(join(out, "definitions.py"), "utf8")).toContain('defs = build_definitions(HERE / "manifest.json")');
  });

  it("is deterministic: the same input gives byte-identical files", async () => {
    const defs = await loadDefinitions(fixtureModule, "default");
    const out = tmp();
    buildDagsterProject({ definitions: defs, module: fixtureModule, outDir: out, storage: "data" });
    const first = readTree(out);
    buildDagsterProject({ definitions: defs, module: fixtureModule, outDir: out, storage: "data" });
    expect(readTree(out)).toEqual(first);
    expect(first["definitions.py"]).toContain('storage=HERE / "data"');
  });

  it("keeps secret values and resource values out of every file", async () => {
    const defs = await loadDefinitions(fixtureModule, "default");
    const out = tmp();
    process.env.FIXTURE_API_TOKEN = "do-not-leak-42";
    try {
      buildDagsterProject({ definitions: defs, module: fixtureModule, outDir: out });
    } finally {
      delete process.env.FIXTURE_API_TOKEN;
    }
    for (const text of Object.values(readTree(out))) expect(text).not.toContain("do-not-leak-42");
  });

  it("refuses definitions Dagster cannot represent, naming the asset and the rule", () => {
    const bad = asset({ key: "bad", group: "my-group", tags: { note: "has spaces" }, compute: () => pl.DataFrame({ a: [1] }) });
    const defs = definitions({ assets: [bad] });
    expect(() => buildDagsterProject({ definitions: defs, module: fixtureModule, outDir: tmp() })).toThrow(/asset "bad": group "my-group"[\s\S]*asset "bad": tag note=has spaces/);
  });

  it("refuses partition keys Dagster refuses, at build time instead of when the code location loads", () => {
    // Dagster's INVALID_PARTITION_SUBSTRINGS: "...", control characters, newlines, tabs. Core's
    // staticPartitions() refuses these too; the manifest is checked again, since it is the contract.
    const manifest = {
      assets: [{ id: "parts", key: ["parts"], group: "default", checks: [], tags: {}, partitions: { type: "static", keys: ["ok", "x\ny", "a...b", "t\tab"] } }],
      resources: [],
      schedules: [{ name: "nightly", partition: { type: "static", key: "x\ny" }, partitions: null }],
      sensors: [],
    } as unknown as Manifest;
    expect(dagsterProblems(manifest)).toEqual([
      'asset "parts": partition key "x\\ny" contains a newline, which Dagster does not allow in a partition key',
      'asset "parts": partition key "a...b" contains "...", which Dagster does not allow in a partition key',
      'asset "parts": partition key "t\\tab" contains a tab, which Dagster does not allow in a partition key',
      'schedule "nightly": partition key "x\\ny" contains a newline, which Dagster does not allow in a partition key',
    ]);
  });

  it("accepts resources whose keys are Dagster names", () => {
    const api = resource({ config: { url: env("API_URL") }, create: ({ url }) => url });
    const a = asset({ key: "a", resources: ["api"], compute: () => pl.DataFrame({ a: [1] }) });
    const project = buildDagsterProject({ definitions: definitions({ assets: [a], resources: { api } }), module: fixtureModule, outDir: tmp() });
    expect(project.manifest.resources.map((r) => [r.key, r.config.map((c) => c.env)])).toEqual([["api", ["API_URL"]]]);
  });
});

describe("baton dagster build", () => {
  it("builds into --out relative to the project root and says how to open it", async () => {
    const defs = await loadDefinitions(fixtureModule, "default");
    const root = tmp();
    const out: string[] = [];
    const err: string[] = [];
    const code = await run(["build", "--out", "dagster"], { defs, module: fixtureModule, exportName: "default", projectRoot: root, out: (t) => out.push(t), err: (t) => err.push(t) });
    expect([code, err]).toEqual([0, []]);
    expect(readdirSync(join(root, "dagster")).sort()).toEqual(["baton_core", "baton_dagster", "definitions.py", "manifest.json", "pyproject.toml"]);
    expect(out.join("\n")).toContain(`${defs.assets.length} assets, ${defs.schedules.length} schedules, ${defs.sensors.length} sensors`);
    expect(out.join("\n")).toContain("cd dagster && dagster dev");
  });

  it("prints its usage and exits 2 without --out", async () => {
    const defs = await loadDefinitions(fixtureModule, "default");
    const err: string[] = [];
    const code = await run(["build"], { defs, module: fixtureModule, exportName: "default", projectRoot: tmp(), out: () => undefined, err: (t) => err.push(t) });
    expect(code).toBe(2);
    expect(err.join("")).toContain("baton dagster build --out DIR");
  });
});
