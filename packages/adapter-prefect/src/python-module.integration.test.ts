import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { loadDefinitions } from "@baton/core";
import { fixtureModulePath } from "@baton/testing/fixtures";
import { buildPrefectProject, type PrefectProject } from "./build.js";
import { prefectEnv } from "./__tests__/prefect/env.js";

/* The shipped Python module on its own, in the pinned Prefect environment (no server needed).
   Its partition rules are baton_core's, compared with core's TypeScript in core (src/python-partitions.test.ts). */
let python = "";
let project: PrefectProject;

function py(code: string, input: string, env: Record<string, string> = {}): string {
  return execFileSync(python, ["-c", code], { cwd: project.outDir, input, encoding: "utf8", env: { ...process.env, PYTHONPATH: project.outDir, PREFECT_HOME: join(project.outDir, ".prefect"), ...env } });
}

beforeAll(async () => {
  python = prefectEnv().python;
  const module = fixtureModulePath();
  const outDir = join(mkdtempSync(join(tmpdir(), "baton-prefect-py-")), "project");
  project = buildPrefectProject({ definitions: await loadDefinitions(module, "default"), module, outDir, flowName: "fixtures" });
}, 300_000);

describe("baton_prefect (Python)", () => {
  it("importing flows.py and building its deployments never starts Node", () => {
    const marker = join(project.outDir, "node-was-started");
    const fakeNode = join(project.outDir, "fake-node.sh");
    writeFileSync(fakeNode, `#!/bin/sh\ntouch "${marker}"\n`);
    chmodSync(fakeNode, 0o755);
    const out = py(
      `import json, flows
ds = flows.deployments()
print(json.dumps([[d.name, d.flow_name, [[getattr(s.schedule, "cron", None), getattr(s.schedule, "timezone", None)] for s in d.schedules], d.parameters] for d in ds]))`,
      "",
      { BATON_NODE: fakeNode, PATH: "/usr/bin:/bin" },
    );
    expect(existsSync(marker)).toBe(false);
    const deployments = JSON.parse(out.trim().split("\n").at(-1)!) as unknown[];
    expect(deployments).toEqual([
      ["materialize", "fixtures", [], {}],
      ["daily_events", "fixtures", [["0 2 * * *", "Europe/Paris"]], { assets: ["web/events", "daily_event_counts"], schedule: "daily_events" }],
      ["new_event_files", "fixtures-sensors", [[null, "UTC"]], { sensor: "new_event_files", target: "fixtures/new_event_files-runs" }],
      ["new_event_files-runs", "fixtures", [], { assets: ["web/events", "daily_event_counts"] }],
    ]);
  });

  it("refuses a manifest version it does not read, naming both versions", () => {
    const manifest = JSON.parse(readFileSync(join(project.outDir, "baton-manifest.json"), "utf8")) as Record<string, unknown>;
    const other = join(project.outDir, "v2.json");
    writeFileSync(other, JSON.stringify({ ...manifest, manifestVersion: 2 }));
    const out = py(
      `from baton_prefect import Manifest, BatonManifestError
try:
    Manifest.load("v2.json")
except BatonManifestError as e:
    print(e)`,
      "",
    );
    expect(out).toContain("manifest version 2");
    expect(out).toContain("baton_prefect can read (it reads 1)");
  });

  it("checks partition keys before any task starts, as core does", () => {
    const out = py(
      `from baton_prefect import BatonProject, BatonPartitionError
p = BatonProject("baton-manifest.json", flow_name="fixtures")
for kwargs in [dict(assets=["web/events"], partition_key="1999-12-31"), dict(assets=["web/events"]),
               dict(assets=["regional_sales"], partition_key="mars"),
               dict(assets=["web/events"], partition_range_start="2024-01-07", partition_range_end="2024-01-01"),
               dict(assets=["web/events"], partition_range_start="2024-01-07")]:
    try:
        p.plan(**kwargs)
        print("ok")
    except BatonPartitionError as e:
        print(e)
print(p.plan(["daily_event_counts", "web/events"], "2024-01-03"))`,
      "",
    ).split("\n");
    expect(out[0]).toBe(`asset "web/events": unknown partition key "1999-12-31" (outside the partitions' start and end); valid keys run from "2024-01-01" to "2024-02-29" (daily windows, format "%Y-%m-%d", UTC)`);
    expect(out[1]).toContain('asset "web/events" is partitioned: pass partition_key');
    expect(out[2]).toBe(`asset "regional_sales": unknown partition key "mars"; valid keys: "eu", "us", "apac"`);
    expect(out[3]).toContain('partition range "2024-01-07" to "2024-01-01" ends before it starts');
    expect(out[4]).toContain("pass both partition_range_start and partition_range_end");
    expect(out[5]).toBe("RunPlan(assets=['web/events', 'daily_event_counts'], partition_key='2024-01-03', partition_range=None, skip_reason=None)");
  });
});
