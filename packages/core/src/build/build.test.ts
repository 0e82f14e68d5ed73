import { mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it, vi } from "vitest";
import { cleanupTempDirs, expectValidManifestJson, tempDir, thrown } from "../__tests__/helpers.js";
import { fakeAdapter } from "./__tests__/fake-adapter.js";
import { buildTarget, requirementsText, wheelPin, type BuildTargetOptions } from "./runner.js";
import { globMatcher, packFiles } from "./pack-files.js";
import { packageName } from "./runtime.js";
import { planTarget, renderPlan } from "./plan.js";

// Builds copy a real production closure (nodejs-polars, apache-arrow, esbuild…): give them time on a loaded machine.
vi.setConfig({ testTimeout: 180_000, hookTimeout: 120_000 });
afterAll(cleanupTempDirs);

const CORE = fileURLToPath(new URL("../..", import.meta.url));

/** A tiny project outside the checkout whose node_modules links the workspace's core, as pnpm would. */
function project(definitions: string, pkg: Record<string, unknown> = {}): string {
  const root = tempDir("baton-build-project-");
  mkdirSync(join(root, "node_modules", "@baton"), { recursive: true });
  symlinkSync(CORE, join(root, "node_modules", "@baton", "core"), "dir");
  mkdirSync(join(root, "src"));
  writeFileSync(join(root, "src", "definitions.ts"), definitions);
  writeFileSync(join(root, "package.json"), JSON.stringify({ name: "tiny", private: true, type: "module", baton: { definitions: "./src/definitions.ts" }, ...pkg }));
  return root;
}

const TINY = `import { asset, definitions } from "@baton/core";
export default definitions({ assets: [asset({ key: "tiny", owners: [OWNER], output: "none", compute: () => undefined })] });
`;
const tiny = (owner = "team:data") => TINY.replace("OWNER", JSON.stringify(owner));

const opts = (root: string, outDir: string, extra: Partial<BuildTargetOptions> = {}): BuildTargetOptions => ({
  projectRoot: root,
  definitionsFile: "src/definitions.ts",
  outDir,
  ...extra,
});

/** Every file under dir with its bytes, by relative path. */
function snapshot(dir: string, prefix = ""): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const entry of readdirSync(join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) for (const [k, v] of snapshot(dir, rel)) out.set(k, v);
    else out.set(rel, readFileSync(join(dir, rel)));
  }
  return out;
}

describe("buildTarget", () => {
  it("writes the contract's layout: manifest v2, build.json, the runtime, wheels, requirements and the adapter's files", async () => {
    const root = project(tiny());
    const out = join(tempDir(), "out");
    const result = await buildTarget(fakeAdapter(), opts(root, out, { storage: "s3://bucket/prefix", rawOptions: { greeting: "hi" } }));
    expect(result.outDir).toBe(out);
    const manifest = expectValidManifestJson(readFileSync(join(out, "baton", "manifest.json"), "utf8"));
    expect(manifest.manifestVersion).toBe(2);
    expect(manifest.runtime.module).toMatch(/^runtime\/definitions-[0-9a-f]{16}\.mjs$/);
    expect(manifest.runtime.stepEntry).toBe("runtime/node_modules/@baton/core/dist/step/bin.js");
    expect(manifest.runtime.moduleHash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(JSON.parse(readFileSync(join(out, "baton", "build.json"), "utf8"))).toEqual({ options: { extra: null, greeting: "hi", loud: false }, storage: "s3://bucket/prefix", target: "fake" });
    expect(readFileSync(join(out, "baton", "build.json"), "utf8")).toBe('{\n  "options": {\n    "extra": null,\n    "greeting": "hi",\n    "loud": false\n  },\n  "storage": "s3://bucket/prefix",\n  "target": "fake"\n}\n');
    const runtimePkg = JSON.parse(readFileSync(join(out, "baton", "runtime", "package.json"), "utf8")) as Record<string, unknown>;
    expect(runtimePkg).toEqual({ name: "baton-runtime", private: true, type: "module", dependencies: { "@baton/core": "0.1.0" } });
    // The workspace core is copied as npm pack publishes it: no sources, tests or maps.
    const core = join(out, "baton", "runtime", "node_modules", "@baton", "core");
    expect(readdirSync(core)).toEqual(expect.arrayContaining(["LICENSE", "README.md", "dist", "package.json", "python", "schema"]));
    for (const unpublished of ["src", "tsconfig.json", "vitest.config.ts", "node_modules"]) expect(readdirSync(core)).not.toContain(unpublished);
    const coreFiles = [...snapshot(core).keys()];
    expect(coreFiles.filter((f) => f.startsWith("dist/") && /\.test\.|\.map$|__tests__/.test(f))).toEqual([]);
    expect(coreFiles.filter((f) => f.startsWith("python/"))).toEqual([expect.stringMatching(/^python\/dist\/baton_core-.*\.whl$/)]);
    // Its dependencies sit at the top level, tsx's own esbuild (another version) nested under it.
    const top = readdirSync(join(out, "baton", "runtime", "node_modules"));
    expect(top).toEqual(expect.arrayContaining(["@baton", "nodejs-polars", "apache-arrow", "esbuild", "tsx"]));
    const esbuildVersion = (p: string) => (JSON.parse(readFileSync(join(out, "baton", "runtime", "node_modules", p, "package.json"), "utf8")) as { version: string }).version;
    expect(esbuildVersion("esbuild")).toBe("0.25.12");
    expect(esbuildVersion("tsx/node_modules/esbuild")).not.toBe("0.25.12");
    expect(readdirSync(join(out, "wheels"))).toEqual([expect.stringMatching(/^baton_core-0\.1\.0-.*\.whl$/)]);
    expect(readFileSync(join(out, "requirements.txt"), "utf8")).toMatch(/\n--find-links wheels\nbaton-core==0\.1\.0\nfake-orchestrator==1\.2\.3\n$/);
    expect(readFileSync(join(out, "fake", "definitions.py"), "utf8")).toBe('"""hi."""\n\nASSETS = ["tiny"]\n');
    expect(result.files).toContain("fake/definitions.py");
    // The source map names the project's file relative to the project, with its content.
    const map = JSON.parse(readFileSync(join(out, "baton", `${manifest.runtime.module}.map`), "utf8")) as { sources: string[]; sourcesContent: string[] };
    expect(map.sources).toEqual(["src/definitions.ts"]);
    expect(map.sourcesContent[0]).toContain('key: "tiny"');
    expect(readFileSync(join(out, "baton", manifest.runtime.module), "utf8")).not.toContain(root);
  });

  it("two builds of the same project are byte-identical, file by file", async () => {
    const root = project(tiny());
    const [a, b] = [join(tempDir(), "a"), join(tempDir(), "b")];
    await buildTarget(fakeAdapter(), opts(root, a));
    await buildTarget(fakeAdapter(), opts(root, b));
    const [sa, sb] = [snapshot(a), snapshot(b)];
    expect([...sa.keys()].sort()).toEqual([...sb.keys()].sort());
    for (const [file, bytes] of sa) expect(bytes.equals(sb.get(file)!), file).toBe(true);
    expect(sa.size).toBeGreaterThan(100);
  });

  it("a failing build leaves the previous output intact and no temp folder behind", async () => {
    const root = project(tiny());
    const parent = tempDir();
    const out = join(parent, "out");
    await buildTarget(fakeAdapter(), opts(root, out));
    const before = snapshot(out);
    writeFileSync(join(root, "src", "definitions.ts"), tiny("nobody"));
    const e = await thrown(() => buildTarget(fakeAdapter(), opts(root, out)));
    expect(e).toMatchObject({ name: "BatonError", code: "INVALID_DEFINITION" });
    expect(e.message).toContain('asset "tiny": owner "nobody" is not allowed here');
    expect(e.message).toContain("1 problem for Fake Orchestrator");
    // An emit that breaks the rules fails after the options and the manifest were fine.
    writeFileSync(join(root, "src", "definitions.ts"), tiny("team:other"));
    const bad = fakeAdapter({ emit: (files) => [...files, { path: "../escape.py", content: "" }] });
    expect((await thrown(() => buildTarget(bad, opts(root, out)))).message).toContain('emitted "../escape.py"');
    // A failure while writing (the step package has no step entry) removes the half-written folder.
    const noStep = fakeAdapter({ stepPackage: "nodejs-polars" });
    expect((await thrown(() => buildTarget(noStep, opts(root, out)))).message).toContain("the step entry nodejs-polars/dist/step/bin.js is not in the installed package");
    const after = snapshot(out);
    expect([...after.keys()]).toEqual([...before.keys()]);
    for (const [file, bytes] of before) expect(bytes.equals(after.get(file)!), file).toBe(true);
    expect(readdirSync(parent)).toEqual(["out"]);
  });

  it("replaces a previous build, and refuses a non-empty folder that is not one, naming it", async () => {
    const root = project(tiny());
    const parent = tempDir();
    const out = join(parent, "out");
    await buildTarget(fakeAdapter(), opts(root, out, { rawOptions: { greeting: "one" } }));
    writeFileSync(join(out, "stale.txt"), "from an old build");
    mkdirSync(join(parent, ".out.baton-old-0123abcd")); // what an interrupted removal leaves
    await buildTarget(fakeAdapter(), opts(root, out, { rawOptions: { greeting: "two" } }));
    expect(readdirSync(out)).not.toContain("stale.txt");
    expect(readdirSync(parent)).toEqual(["out"]);
    expect(readFileSync(join(out, "fake", "definitions.py"), "utf8")).toContain("two");

    const foreign = join(tempDir(), "mine");
    mkdirSync(foreign);
    writeFileSync(join(foreign, "notes.txt"), "keep me");
    const e = await thrown(() => buildTarget(fakeAdapter(), opts(root, foreign)));
    expect(e).toMatchObject({ code: "CONFIG", file: foreign });
    expect(e.message).toContain("not a Baton build");
    expect(e.message).toContain("pick an empty or new folder");
    expect(readdirSync(foreign)).toEqual(["notes.txt"]);
    // An empty folder is fine.
    const empty = join(tempDir(), "empty");
    mkdirSync(empty);
    await buildTarget(fakeAdapter(), opts(root, empty));
    expect(readdirSync(empty).sort()).toEqual(["baton", "fake", "requirements.txt", "wheels"]);
  });

  it("storage: an absolute path or an s3:// URL verbatim, nothing → null, a relative path or another scheme refused with a hint", async () => {
    const root = project(tiny());
    const storageOf = async (storage: string | null) => {
      const out = join(tempDir(), "out");
      await buildTarget(fakeAdapter(), opts(root, out, { storage }));
      return (JSON.parse(readFileSync(join(out, "baton", "build.json"), "utf8")) as { storage: unknown }).storage;
    };
    expect(await storageOf("/srv/baton/storage")).toBe("/srv/baton/storage");
    expect(await storageOf("s3://bucket/a/b")).toBe("s3://bucket/a/b");
    expect(await storageOf("file:///srv/baton/storage")).toBe("file:///srv/baton/storage");
    expect(await storageOf(null)).toBe(null);
    // The workers could not open it: the build fails instead, naming what is supported.
    for (const url of ["gs://bucket/a/b", "s3://KEY:secret@bucket/a"]) {
      const out = join(tempDir(), "out");
      const e = await thrown(() => buildTarget(fakeAdapter(), opts(root, out, { storage: url })));
      expect(e).toMatchObject({ code: "STORAGE_URL" });
      expect(e.message).not.toContain("secret");
      expect(statSync(out, { throwIfNoEntry: false })).toBeUndefined();
    }
    expect((await thrown(() => buildTarget(fakeAdapter(), opts(root, join(tempDir(), "out"), { storage: "gs://bucket/a/b" })))).hint).toContain("s3://bucket");
    for (const relative of ["data/storage", "./storage", "../storage", ""]) {
      const out = join(tempDir(), "out");
      const e = await thrown(() => buildTarget(fakeAdapter(), opts(root, out, { storage: relative })));
      expect(e).toMatchObject({ code: "CONFIG" });
      expect(e.message).toContain("relative path");
      expect(e.message).toContain("absolute path");
      expect(statSync(out, { throwIfNoEntry: false })).toBeUndefined();
    }
  });

  it("options: a flag wins over package.json baton.<target>; JSON-file options are read from the project root", async () => {
    const root = project(tiny(), { baton: { definitions: "./src/definitions.ts", fake: { greeting: "from package.json", loud: true, "extra-file": "conf/extra.json" } } });
    mkdirSync(join(root, "conf"));
    writeFileSync(join(root, "conf", "extra.json"), '{ "tags": ["a"] }');
    const built = async (rawOptions: Record<string, unknown>) => {
      const out = join(tempDir(), "out");
      return (await buildTarget(fakeAdapter(), opts(root, out, { rawOptions }))).input.options;
    };
    expect(await built({})).toEqual({ greeting: "from package.json", loud: true, extra: { tags: ["a"] } });
    expect(await built({ greeting: "from the flag" })).toEqual({ greeting: "from the flag", loud: true, extra: { tags: ["a"] } });
    writeFileSync(join(root, "conf", "broken.json"), "{ nope");
    const e = await thrown(() => built({ extraFile: "conf/broken.json" }));
    expect(e).toMatchObject({ code: "CONFIG", file: join(root, "conf", "broken.json") });
    expect(e.message).toContain("--extra-file is not valid JSON");
    const missing = await thrown(() => built({ extraFile: "conf/none.json" }));
    expect(missing).toMatchObject({ code: "CONFIG", file: join(root, "conf", "none.json") });
    const unknown = await thrown(() => built({ colour: "red" }));
    expect(unknown).toMatchObject({ name: "UsageError" });
  });

  it("refuses emitted text that contains the project's or the output's absolute path, naming the file", async () => {
    const root = project(tiny());
    const out = join(tempDir(), "out");
    const leaks = (path: string) => fakeAdapter({ emit: (files) => [...files, { path: "fake/paths.py", content: `ROOT = "${path}/src"\n` }] });
    for (const path of [root, out]) {
      const e = await thrown(() => buildTarget(leaks(path), opts(root, out)));
      expect(e).toMatchObject({ code: "CONFIG", file: "fake/paths.py" });
      expect(e.message).toContain(`contains the build-time path ${path}`);
    }
    const absolute = fakeAdapter({ emit: (files) => [...files, { path: "/etc/fake.py", content: "" }] });
    expect((await thrown(() => buildTarget(absolute, opts(root, out)))).message).toContain("not a relative path");
    const clash = fakeAdapter({ emit: (files) => [...files, { path: "baton/manifest.json", content: "{}" }] });
    expect((await thrown(() => buildTarget(clash, opts(root, out)))).message).toContain("one of core's paths");
    expect(statSync(out, { throwIfNoEntry: false })).toBeUndefined();
  });
});

describe("planTarget and renderPlan", () => {
  it("describes the translation and the problems, writing nothing", async () => {
    const root = project(tiny("nobody"));
    const before = readdirSync(root).sort();
    const plan = await planTarget(fakeAdapter(), { projectRoot: root, definitionsFile: "src/definitions.ts" });
    expect(plan.assets).toEqual([{ id: "tiny", becomes: ["job tiny"], partitions: null }]);
    expect(plan.problems).toEqual(['asset "tiny": owner "nobody" is not allowed here']);
    const text = renderPlan(plan);
    expect(text).toContain("Plan for Fake Orchestrator (nothing written)");
    for (const section of ["Assets (1)", "Edges (0)", "Schedules (0)", "Sensors (0)", "Not honoured (0)", "Problems (the build would fail) (1)"]) expect(text).toContain(section);
    expect(text).toContain("  tiny\n    → job tiny");
    expect(readdirSync(root).sort()).toEqual(before);
  });
});

describe("the runner's small rules", () => {
  it("requirements.txt: wheel names become pins, one per distribution, sorted by name; a conflict is refused", () => {
    expect(wheelPin("/x/baton_core-0.1.0-py3-none-any.whl")).toBe("baton-core==0.1.0");
    const text = requirementsText("dagster", ["dagster==1.13.28", "dagster-pipes==1.13.28", "dagster-webserver==1.13.28"], ["/w/baton_dagster-0.1.0-py3-none-any.whl", "/w/baton_core-0.1.0-py3-none-any.whl"]);
    expect(text.split("\n").slice(2)).toEqual(["--find-links wheels", "baton-core==0.1.0", "baton-dagster==0.1.0", "dagster==1.13.28", "dagster-pipes==1.13.28", "dagster-webserver==1.13.28", ""]);
    expect(() => requirementsText("x", ["Dagster_Pipes==1.0", "dagster-pipes==2.0"], [])).toThrow(/two requirements for dagster-pipes/);
  });

  it("external imports name their package; builtins, relative and subpath imports do not", () => {
    expect(["@baton/core/step", "nodejs-polars", "lodash/fp", "node:fs", "fs", "./x.js", "#internal", "@scope"].map(packageName)).toEqual(["@baton/core", "nodejs-polars", "lodash", undefined, undefined, undefined, undefined, undefined]);
  });

  it("npm's files rules: folders take their contents, negations in order, package.json/README/LICENSE always", () => {
    expect(globMatcher("dist")("dist/a/b.js")).toBe(true);
    expect(globMatcher("dist/**/*.map")("dist/a/b.js.map")).toBe(true);
    expect(globMatcher("dist/**/__tests__")("dist/x/__tests__/h.js")).toBe(true);
    expect(globMatcher("python/dist/*.whl")("python/dist/sub/a.whl")).toBe(false);
    const dir = tempDir();
    for (const f of ["package.json", "README.md", "LICENSE", "src/a.ts", "dist/a.js", "dist/a.js.map", "dist/a.test.js", "dist/__tests__/h.js", "python/dist/x.whl", "python/x.py"]) {
      mkdirSync(join(dir, f, ".."), { recursive: true });
      writeFileSync(join(dir, f), "");
    }
    expect(packFiles(dir, ["dist", "!dist/**/*.test.*", "!dist/**/__tests__", "!dist/**/*.map", "python/dist/*.whl"])).toEqual(["LICENSE", "README.md", "dist/a.js", "package.json", "python/dist/x.whl"]);
  });
});
