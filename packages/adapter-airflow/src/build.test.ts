import { mkdtempSync, readFileSync, readdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { asset, definitions, loadDefinitions, MANIFEST_VERSION, schedule } from "@baton/core";
import { fixtureModulePath } from "@baton/testing/fixtures";
import { buildAirflowDags, translationProblems } from "./build.js";
import { airflowId, assetUri, dagIdsFor } from "./ids.js";
import { mappingProblems } from "./options.js";
import { ACCEPTED_MANIFEST_VERSIONS, assertManifestVersion } from "./versions.js";
import { run } from "./cli.js";

const module = fixtureModulePath();
const defs = await loadDefinitions(module);
const tmp = () => mkdtempSync(join(tmpdir(), "baton-airflow-"));

function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const f of readdirSync(d).sort()) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else out[relative(dir, p)] = readFileSync(p, "utf8");
    }
  };
  walk(dir);
  return out;
}

describe("buildAirflowDags", () => {
  it("writes the manifest, the options, the Python modules (baton_airflow and core's baton_core) and one DAG file", () => {
    const out = tmp();
    const result = buildAirflowDags({ definitions: defs, module, outDir: out, storage: "/data/baton", resources: { landing: { variable: "landing" } } });
    expect(result.files).toEqual([
      "baton/airflow.json",
      "baton/manifest.json",
      "baton_airflow/.airflowignore",
      "baton_airflow/__init__.py",
      "baton_airflow/dags.py",
      "baton_airflow/manifest.py",
      "baton_airflow/operators.py",
      "baton_airflow/resources.py",
      "baton_airflow/runplan.py",
      "baton_airflow/step.py",
      "baton_core/.airflowignore",
      "baton_core/__init__.py",
      "baton_core/manifest.py",
      "baton_core/mapping.py",
      "baton_core/partitions.py",
      "baton_core/plan.py",
      "baton_core/selection.py",
      "baton_core/step.py",
      "baton_dags.py",
    ]);
    expect(Object.keys(snapshot(out)).sort()).toEqual([...result.files].sort());
    const manifest = JSON.parse(readFileSync(join(out, "baton/manifest.json"), "utf8"));
    expect(manifest.manifestVersion).toBe(MANIFEST_VERSION);
    // Paths in the manifest are relative to its folder, so the DAGs folder can move with its project.
    expect(manifest.runtime.module.startsWith("/")).toBe(false);
    expect(JSON.parse(readFileSync(join(out, "baton/airflow.json"), "utf8"))).toEqual({ dagIdPrefix: "baton", storage: "/data/baton", resources: { landing: { variable: "landing" } } });
    expect(result.dagIds).toEqual(["baton_assets", "baton_schedule_daily_events", "baton_schedule_ended_schedule", "baton_sensor_new_event_files", "baton_sensor_secret_sensor"]);
  });

  it("is deterministic: the same input gives byte-identical files", () => {
    const a = tmp();
    const b = tmp();
    buildAirflowDags({ definitions: defs, module, outDir: a });
    buildAirflowDags({ definitions: defs, module, outDir: a });
    buildAirflowDags({ definitions: defs, module, outDir: b });
    const sa = snapshot(a);
    const sb = snapshot(b);
    expect(sa["baton_dags.py"]).toBe(sb["baton_dags.py"]);
    expect(sa["baton_airflow/dags.py"]).toBe(sb["baton_airflow/dags.py"]);
    // The manifest differs only where paths are relative to a different folder depth (none here).
    expect(sa["baton/manifest.json"]).toBe(sb["baton/manifest.json"]);
  });

  it("writes a DAG file that starts no Node and holds no configuration values", () => {
    const out = tmp();
    buildAirflowDags({ definitions: defs, module, outDir: out, resources: { audit_api: { connection: "audit", fields: { token: "password" } } } });
    const text = readFileSync(join(out, "baton_dags.py"), "utf8");
    expect(text).toContain("from baton_airflow import build_dags");
    // dag_discovery_safe_mode only parses files that mention both words.
    expect(text.toLowerCase()).toContain("airflow");
    expect(text.toLowerCase()).toContain("dag");
    expect(text).not.toMatch(/subprocess|node /);
    for (const file of ["baton_dags.py", "baton/manifest.json", "baton/airflow.json"]) {
      expect(readFileSync(join(out, file), "utf8")).not.toMatch(/FIXTURE_API_TOKEN=|tok-/);
    }
  });

  it("keeps the module's files out of the DAG processor", () => {
    const out = tmp();
    buildAirflowDags({ definitions: defs, module, outDir: out });
    expect(readFileSync(join(out, "baton_airflow/.airflowignore"), "utf8")).toContain("*");
  });

  it("refuses resource mappings that do not fit the definitions, naming the resource", () => {
    expect(() => buildAirflowDags({ definitions: defs, module, outDir: tmp(), resources: { nope: { variable: "x" } } })).toThrow(/resources\.nope: there is no Baton resource "nope"/);
    expect(() => buildAirflowDags({ definitions: defs, module, outDir: tmp(), resources: { audit_api: { connection: "a", fields: { token: "secret_field" } } } })).toThrow(
      /resources\.audit_api\.fields\.token: "secret_field" is not a connection field/,
    );
    expect(mappingProblems({ audit_api: { connection: "a", fields: { nofield: "host" } } }, [{ key: "audit_api", config: [{ field: "url" }] }])).toEqual([
      'resources.audit_api.fields.nofield: resource "audit_api" has no config field "nofield" (it has url)',
    ]);
  });

  it("refuses definitions whose names collide as Airflow ids", () => {
    const a = asset({ key: ["x", "y"], compute: () => undefined, output: "none" });
    const b = asset({ key: "x__y", compute: () => undefined, output: "none" });
    const d = definitions({ assets: [a, b], schedules: [schedule({ name: "s", cron: "0 * * * *", selection: "x/y" })] });
    expect(() => buildAirflowDags({ definitions: d, module, outDir: tmp() })).toThrow(/assets "x\/y" and "x__y" both become Airflow id "x__y"/);
  });
});

describe("ids", () => {
  it("maps Baton names to Airflow ids and asset URIs", () => {
    expect(airflowId("raw/orders")).toBe("raw__orders");
    expect(airflowId("daily events!")).toBe("daily_events_");
    expect(assetUri("raw/orders")).toBe("x-baton://raw/orders");
  });

  it("lists the DAG ids the Python side builds", () => {
    const out = tmp();
    const { manifest } = buildAirflowDags({ definitions: defs, module, outDir: out, dagIdPrefix: "shop" });
    expect(dagIdsFor(manifest, "shop")).toEqual(["shop_assets", "shop_schedule_daily_events", "shop_schedule_ended_schedule", "shop_sensor_new_event_files", "shop_sensor_secret_sensor"]);
    expect(translationProblems(manifest, "bad prefix")).toEqual(['dagIdPrefix "bad prefix" may only hold letters, digits, "_", "." and "-"']);
  });
});

describe("manifest versions", () => {
  it("accepts the version core writes and refuses others, naming both", () => {
    expect(ACCEPTED_MANIFEST_VERSIONS).toContain(MANIFEST_VERSION);
    expect(() => assertManifestVersion(MANIFEST_VERSION)).not.toThrow();
    expect(() => assertManifestVersion(2)).toThrow(/manifest version 2, but @baton\/adapter-airflow reads version 1/);
  });

  it("declares the same versions on the Python side", () => {
    const text = readFileSync(new URL("../python/baton_airflow/manifest.py", import.meta.url), "utf8");
    expect(text).toContain(`ACCEPTED_MANIFEST_VERSIONS = (${ACCEPTED_MANIFEST_VERSIONS.join(", ")},)`);
  });
});

describe("cli", () => {
  const io = () => {
    const lines: string[] = [];
    const errors: string[] = [];
    return { lines, errors, ctx: { defs, module, exportName: "default", projectRoot: tmp(), out: (t: string) => lines.push(t), err: (t: string) => errors.push(t) } };
  };

  it("builds into --out", async () => {
    const { lines, ctx } = io();
    const out = tmp();
    expect(await run(["build", "--out", out], ctx)).toBe(0);
    expect(lines.join("\n")).toContain("baton_assets, baton_schedule_daily_events, baton_schedule_ended_schedule, baton_sensor_new_event_files, baton_sensor_secret_sensor");
    expect(readdirSync(out)).toContain("baton_dags.py");
  });

  it("explains itself without --out or with an unknown command", async () => {
    const a = io();
    expect(await run(["build"], a.ctx)).toBe(2);
    expect(a.errors.join("\n")).toContain("--out DAGS_DIR is required");
    const b = io();
    expect(await run(["deploy"], b.ctx)).toBe(2);
    expect(b.errors.join("\n")).toContain("baton airflow build --out DAGS_DIR");
  });
});
