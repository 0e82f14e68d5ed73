import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { asset, definitions, schedule, loadDefinitions, MANIFEST_VERSION, type Definitions } from "@baton/core";
import { fixtureModulePath } from "@baton/testing/fixtures";
import { buildPrefectProject, type BuildPrefectProjectOptions } from "./build.js";
import { corePythonModuleDir, type AdapterCliContext } from "@baton/core";
import { run } from "./cli.js";
import { ACCEPTED_MANIFEST_VERSIONS, assertManifestVersion } from "./versions.js";
import { pyLiteral } from "./python-literal.js";

const module = fixtureModulePath();
const fixtures = await loadDefinitions(module, "default");
const tmp = () => mkdtempSync(join(tmpdir(), "baton-prefect-build-"));

function build(overrides: Partial<BuildPrefectProjectOptions> = {}) {
  const outDir = overrides.outDir ?? tmp();
  const project = buildPrefectProject({ definitions: fixtures, module, outDir, flowName: "fixtures", ...overrides });
  const read = (file: string) => readFileSync(join(outDir, file), "utf8");
  return { project, outDir, read };
}

function allFiles(dir: string, prefix = ""): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of readdirSync(join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) Object.assign(out, allFiles(dir, rel));
    else out[rel] = readFileSync(join(dir, rel), "utf8");
  }
  return out;
}

describe("buildPrefectProject", () => {
  it("writes the manifest, the Python modules (baton_prefect and core's baton_core), flows.py, prefect.yaml and requirements.txt", () => {
    const { project } = build();
    // baton_core is copied whole, whatever modules core ships.
    const core = readdirSync(corePythonModuleDir).filter((f) => f.endsWith(".py")).map((f) => `baton_core/${f}`);
    expect(core).toEqual(expect.arrayContaining(["baton_core/__init__.py", "baton_core/plan.py", "baton_core/step.py"]));
    expect(project.files).toEqual([
      "baton-manifest.json",
      ...core.sort(),
      "baton_prefect/__init__.py",
      "baton_prefect/errors.py",
      "baton_prefect/manifest.py",
      "baton_prefect/project.py",
      "baton_prefect/resources.py",
      "flows.py",
      "prefect.yaml",
      "requirements.txt",
    ]);
  });

  it("is deterministic: the same input gives byte-identical files", () => {
    const resources = { audit_api: { fields: { url: { variable: "audit_url" }, token: { secret: "audit-token" } } }, landing: { block: "landing" } };
    const a = build({ resources, outDir: join(tmp(), "p") });
    const b = build({ resources: { landing: { block: "landing" }, audit_api: { fields: { token: { secret: "audit-token" }, url: { variable: "audit_url" } } } }, outDir: join(tmp(), "p") });
    expect(a.project.files).toEqual(b.project.files);
    // The two folders differ only in their parent, which the manifest's relative paths absorb when at the same depth.
    const filesA = allFiles(a.outDir);
    const filesB = allFiles(b.outDir);
    expect(filesB["flows.py"]).toBe(filesA["flows.py"]);
    expect(filesB["prefect.yaml"]).toBe(filesA["prefect.yaml"]);
    // No absolute path in what the build writes: the folder can move.
    for (const [file, text] of Object.entries(filesA)) expect(text.includes(a.outDir), file).toBe(false);
    expect(filesB["baton_prefect/project.py"]).toBe(filesA["baton_prefect/project.py"]);
    expect(filesB["baton_core/step.py"]).toBe(filesA["baton_core/step.py"]);
    const again = build({ resources, outDir: a.outDir });
    expect(allFiles(again.outDir)).toEqual(filesA);
  });

  it("records runtime paths relative to the project folder and the accepted manifest version", () => {
    const { read, outDir } = build();
    const manifest = JSON.parse(read("baton-manifest.json")) as { manifestVersion: number; runtime: { module: string; stepEntry: string } };
    expect(ACCEPTED_MANIFEST_VERSIONS).toContain(manifest.manifestVersion);
    expect(manifest.runtime.module.startsWith("/")).toBe(false);
    expect(join(outDir, manifest.runtime.module)).toBe(module);
    expect(manifest.runtime.stepEntry).toMatch(/core\/dist\/step\/bin\.js$/);
  });

  it("flows.py defines the flows and one deployment per schedule and sensor, with cron and timezone", () => {
    const flows = build().read("flows.py");
    expect(flows).toContain('@flow(name="fixtures"');
    expect(flows).toContain('@flow(name="fixtures-sensors"');
    expect(flows).toContain("def materialize_assets(\n    assets: list[str] | None = None,\n    partition_key: str | None = None,");
    expect(flows).toContain("partition_range_start: str | None = None,");
    expect(flows).toContain(
      `materialize.to_deployment(
            "daily_events",
            schedules=[Cron("0 2 * * *", timezone="Europe/Paris")],
            parameters={"assets": ["web/events", "daily_event_counts"], "schedule": "daily_events"},`,
    );
    expect(flows).toContain(
      `sensors.to_deployment(
            "new_event_files",
            schedules=[Interval(30)],
            parameters={"sensor": "new_event_files", "target": "fixtures/new_event_files-runs"},`,
    );
    expect(flows).toContain(`materialize.to_deployment(\n            "new_event_files-runs",`);
    // The deployments' code is the project folder, so Prefect runs them in place (pull step set_working_directory).
    expect(flows).toContain('    materialize = materialize_assets.from_source(str(PROJECT_DIR), "flows.py:materialize_assets")\n');
    expect(flows).toContain('PROJECT_DIR = Path(os.environ.get("BATON_PROJECT_DIR") or Path(__file__).parent).resolve()\n');
    expect(flows).toContain('if __name__ == "__main__":\n    serve(*deployments())');
  });

  it("writes the resource mapping into flows.py as names only, in a stable order", () => {
    const flows = build({ resources: { landing: { block: "landing-zone" }, audit_api: { fields: { url: { variable: "audit_url" }, token: { secret: "audit-token" } } } } }).read("flows.py");
    expect(flows).toContain(`RESOURCES: dict[str, Any] = {
    "audit_api": {
        "fields": {"token": {"secret": "audit-token"}, "url": {"variable": "audit_url"}},
    },
    "landing": {"block": "landing-zone"},
}`);
  });

  it("an every-hour cron ticks in both passes of a repeated autumn hour, as Baton's schedules do (core's prefectSchedules)", () => {
    const x = asset({ key: "x", compute: () => undefined, output: "none" });
    const defs: Definitions = definitions({
      assets: [x],
      schedules: [
        schedule({ name: "half_past", cron: "30 * * * *", timezone: "America/New_York", selection: "x" }),
        schedule({ name: "november_hours", cron: "15 * * 11 *", timezone: "America/New_York", selection: "x" }),
        schedule({ name: "nightly", cron: "30 1 * * *", timezone: "America/New_York", selection: "x" }),
      ],
    });
    const { read } = build({ definitions: defs });
    const flows = read("flows.py");
    // Prefect's CronSchedule skips the second 01:30 of a fall-back night for a local every-hour cron: in UTC it cannot.
    expect(flows).toContain(`schedules=[Cron("30 * * * *", timezone="UTC")]`);
    // Restricted to November, the cron stays local and an RRule adds the second passes.
    expect(flows).toMatch(/schedules=\[Cron\("15 \* \* 11 \*", timezone="America\/New_York"\), RRule\("RDATE:20241103T061500Z,20251102T061500Z,/);
    // A daily cron at an ambiguous time fires once, at the first pass, in Prefect as in Baton.
    expect(flows).toContain(`schedules=[Cron("30 1 * * *", timezone="America/New_York")]`);
    expect(flows).toContain("from prefect.schedules import Cron, RRule\n");
    const yaml = read("prefect.yaml");
    expect(yaml).toContain(`  - rrule: "RDATE:20241103T061500Z,`);
    expect(read("flows.py")).toBe(build({ definitions: defs }).read("flows.py"));
  });

  it("prefect.yaml declares the same deployments for a process work pool", () => {
    const { project, read } = build({ workPool: "local" });
    const yaml = read("prefect.yaml");
    expect(yaml).toContain('prefect-version: "3.9.1"');
    expect(yaml).toContain(`- name: "daily_events"
  description: "Each night at 02:00 Paris time, the previous day's events"
  entrypoint: "flows.py:materialize_assets"
  tags: ["baton","baton-schedule"]
  parameters: {"assets":["web/events","daily_event_counts"],"schedule":"daily_events"}
  schedules:
  - cron: "0 2 * * *"
    timezone: "Europe/Paris"
    active: true
  work_pool:
    name: "local"`);
    expect(yaml).toContain(`- name: "new_event_files"
  description: "One run per new events-<day>.ready file after the cursor"
  entrypoint: "flows.py:evaluate_sensor"`);
    expect(yaml).toContain("  - interval: 30\n");
    expect(yaml.match(/^- name:/gm)).toHaveLength(project.deployments.length);
    // The folder `prefect deploy` runs in (a build step's output) becomes the workers' working directory.
    expect(yaml).toContain("- prefect.deployments.steps.run_shell_script:\n    id: baton-project-dir\n    script: pwd\n");
    expect(yaml).toContain('- prefect.deployments.steps.set_working_directory:\n    directory: "{{ baton-project-dir.stdout }}"\n');
  });

  it("keeps storage relative to the project folder", () => {
    const outDir = join(tmp(), "project");
    const flows = build({ outDir, storage: join(outDir, "..", "data") }).read("flows.py");
    expect(flows).toContain('storage="../data"');
  });

  it("refuses resource mappings that cannot work, naming the resource and field", () => {
    expect(() => build({ resources: { nope: { block: "x" } } })).toThrow(/there is no resource "nope"/);
    expect(() => build({ resources: { audit_api: { fields: { tokn: { secret: "x" } } } } })).toThrow(/resource "audit_api" has no config field "tokn"/);
    expect(() => build({ resources: { audit_api: { fields: { token: { variable: "audit_token" } } } } })).toThrow(/field "token" is a secret but is mapped to the Variable "audit_token"/);
    expect(() => build({ resources: { audit_api: { fields: { url: { variable: "Not Valid" } } } } })).toThrow(/not a Prefect Variable name/);
    expect(() => build({ resources: { audit_api: { fields: { url: { file: "x" } as never } } } })).toThrow(/is not a source/);
  });

  it("refuses names Prefect cannot hold and deployment names that collide", () => {
    expect(() => build({ flowName: "a/b" })).toThrow(/flow name "a\/b" cannot be a Prefect name/);
    const x = asset({ key: "x", compute: () => undefined, output: "none" });
    const defs: Definitions = definitions({ assets: [x], schedules: [schedule({ name: "materialize", cron: "0 * * * *", selection: "x" })] });
    expect(() => buildPrefectProject({ definitions: defs, module, outDir: tmp() })).toThrow(/two Prefect deployments would be named "materialize"/);
  });
});

describe("manifest versions", () => {
  it("accepts the version core writes and refuses others, naming both", () => {
    expect(() => assertManifestVersion(MANIFEST_VERSION)).not.toThrow();
    expect(() => assertManifestVersion(99)).toThrow(/manifest version 99 is not one @baton\/adapter-prefect can read \(it reads 1\)/);
  });
});

describe("pyLiteral", () => {
  it("writes Python literals", () => {
    expect(pyLiteral({ a: [true, false, null], b: 1.5, c: 'q"\n' })).toBe('{"a": [True, False, None], "b": 1.5, "c": "q\\"\\n"}');
  });
});

describe("baton prefect CLI", () => {
  const context = (projectRoot: string) => {
    const out: string[] = [];
    const err: string[] = [];
    const ctx: AdapterCliContext = { defs: fixtures, module, exportName: "default", projectRoot, out: (t) => out.push(t), err: (t) => err.push(t) };
    return { ctx, out, err };
  };

  it("builds into --out relative to the project root", async () => {
    const root = tmp();
    const { ctx, out } = context(root);
    expect(await run(["build", "--out", "prefect", "--flow-name", "shop"], ctx)).toBe(0);
    expect(out.join("")).toContain("deployments: materialize, daily_events, ended_schedule, new_event_files, new_event_files-runs, secret_sensor, secret_sensor-runs");
    expect(readFileSync(join(root, "prefect", "flows.py"), "utf8")).toContain('@flow(name="shop"');
  });

  it("explains its usage on bad arguments", async () => {
    const { ctx, err } = context(tmp());
    expect(await run(["build"], ctx)).toBe(2);
    expect(err.join("")).toContain("--out is required");
    expect(await run(["deploy"], ctx)).toBe(2);
    const bad = context(tmp());
    expect(await run(["build", "--out", "x", "--flow-name", "a%b"], bad.ctx)).toBe(1);
    expect(bad.err.join("")).toContain("cannot be a Prefect name");
  });
});
