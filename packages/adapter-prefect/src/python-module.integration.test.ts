import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { fixtureModulePath } from "@baton/testing/fixtures";
import { prefectEnv } from "./__tests__/prefect/env.js";
import { buildFixtures, type PrefectProject } from "./__tests__/prefect/harness.js";

/* The installed baton_prefect wheel with a real build, in the pinned Prefect environment (no server needed).
   Its partition rules are baton_core's, compared with core's TypeScript in core (src/python-partitions.test.ts). */
let python = "";
let project: PrefectProject;
const home = mkdtempSync(join(tmpdir(), "baton-prefect-py-home-"));

function py(code: string, input: string, env: Record<string, string> = {}): string {
  // PYTHONPATH: `import flows` from the build folder; baton_prefect and baton_core are the installed wheels.
  return execFileSync(python, ["-c", code], { cwd: project.outDir, input, encoding: "utf8", env: { ...process.env, PYTHONPATH: project.outDir, PREFECT_HOME: join(home, ".prefect"), ...env } });
}

beforeAll(async () => {
  python = prefectEnv().python;
  const outDir = join(mkdtempSync(join(tmpdir(), "baton-prefect-py-")), "project");
  project = await buildFixtures({ fixtureModule: fixtureModulePath(), outDir, flowName: "fixtures" });
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
    const named = (...names: string[]) => (deployments as [string][]).filter((d) => names.includes(d[0]));
    expect(named("materialize", "daily_events", "new_event_files", "new_event_files-runs")).toEqual([
      ["materialize", "fixtures", [], {}],
      ["daily_events", "fixtures", [["0 2 * * *", "Europe/Paris"]], { assets: ["web/events", "daily_event_counts"], schedule: "daily_events" }],
      ["new_event_files", "fixtures-sensors", [[null, "UTC"]], { sensor: "new_event_files", target: "fixtures/new_event_files-runs", period_seconds: 3600 }],
      ["new_event_files-runs", "fixtures", [], { assets: ["web/events", "daily_event_counts"] }],
    ]);
  });

  it("refuses a manifest version it does not read, naming both versions", () => {
    const manifest = JSON.parse(readFileSync(join(project.outDir, "baton", "manifest.json"), "utf8")) as Record<string, unknown>;
    const other = join(project.outDir, "baton", "v1.json");
    writeFileSync(other, JSON.stringify({ ...manifest, manifestVersion: 1 }));
    const out = py(
      `from baton_prefect import Manifest, BatonManifestError
try:
    Manifest.load("baton/v1.json")
except BatonManifestError as e:
    print(e)`,
      "",
    );
    expect(out).toContain("manifest version 1");
    expect(out).toContain("baton_prefect can read (it reads 2)");
    expect(out).toContain("rebuild the folder with `baton prefect build`");
  });

  it("checks partition keys before any task starts, with baton_core's planner", () => {
    const out = py(
      `import json
from baton_prefect import BatonProject, BatonPartitionError
p = BatonProject.from_build("baton/manifest.json", flow_name="fixtures")
for kwargs in [dict(assets=["web/events"], partition_key="1999-12-31"), dict(assets=["web/events"]),
               dict(assets=["regional_sales"], partition_key="mars"),
               dict(assets=["web/events"], partition_range_start="2024-01-07", partition_range_end="2024-01-01"),
               dict(assets=["web/events"], partition_range_start="2024-01-07")]:
    try:
        p.plan(**kwargs)
        print(json.dumps("ok"))
    except BatonPartitionError as e:
        print(json.dumps(str(e)))
plan = p.plan(["daily_event_counts", "web/events"], "2024-01-03")
print(json.dumps([plan.assets, plan.keys, plan.labels, plan.skip_reason]))`,
      "",
    )
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as unknown);
    expect(out[0]).toContain('asset "web/events": unknown partition key "1999-12-31" (outside the partitions\' start and end)');
    expect(out[1]).toContain('asset "web/events": partitioned by');
    expect(out[1]).toContain("no partition key was given");
    expect(out[2]).toContain('asset "regional_sales": unknown partition key "mars"');
    expect(out[3]).toContain('"2024-01-07"');
    expect(out[4]).toContain("pass both partition_range_start and partition_range_end");
    expect(out[5]).toEqual([
      ["web/events", "daily_event_counts"],
      // One task run per key (the flow maps the asset's task over them).
      { "web/events": ["2024-01-03"], daily_event_counts: ["2024-01-03"] },
      { "web/events": "2024-01-03", daily_event_counts: "2024-01-03" },
      null,
    ]);
  });

  it("a run of every asset without a partition skips the partitioned ones with a reason (the materialize deployment's default run)", () => {
    const out = py(
      `import json
from baton_prefect import BatonProject
p = BatonProject.from_build("baton/manifest.json", flow_name="fixtures")
plan = p.plan()
print(json.dumps([plan.assets, plan.skipped, plan.skip_reason]))`,
      "",
    );
    const [assets, skipped, reason] = JSON.parse(out.trim().split("\n").at(-1)!) as [string[], Record<string, string>, string | null];
    expect(reason).toBeNull();
    expect(assets).toContain("raw/orders");
    expect(assets).toContain("events_summary");
    expect(assets).not.toContain("web/events");
    expect(Object.keys(skipped)).toEqual(expect.arrayContaining(["web/events", "daily_event_counts", "regional_sales", "dst/hourly"]));
    expect(skipped["web/events"]).toContain("pass a partition key or range");
  });

  it("a schedule run after its partitions' end skips with a reason instead of re-running the last partition", () => {
    const out = py(
      `import json
from datetime import datetime
from baton_prefect import BatonProject
p = BatonProject.from_build("baton/manifest.json", flow_name="fixtures")
for at in ["2024-11-05T08:30:00+00:00", "2024-11-06T08:30:00+00:00", "2025-01-15T08:30:00+00:00"]:
    plan = p.plan(schedule="ended_schedule", scheduled_start=datetime.fromisoformat(at))
    print(json.dumps([plan.assets, plan.labels, plan.skip_reason, plan.partition_key]))`,
      "",
    )
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as [string[], Record<string, string>, string | null, string | null]);
    expect(out[0]).toEqual([["dst/daily"], { "dst/daily": "2024-11-04" }, null, "2024-11-04"]);
    for (const later of out.slice(1)) {
      expect(later[0]).toEqual([]);
      expect(later[2]).toContain("dst/daily");
      expect(later[3]).toBeNull();
    }
  });
});
