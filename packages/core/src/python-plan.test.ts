import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { BatonError } from "./errors.js";
import { toManifest } from "./manifest/build.js";
import { firstInRunOrder, planRun, planScheduleTick, type PlanRequest } from "./plan.js";
import { PLAN_NOW, planDefs } from "./__tests__/plan-definitions.js";

/* python/baton_core/plan.py must plan exactly as src/plan.ts does: every orchestrator plans with it. */
const pythonDir = fileURLToPath(new URL("../python/", import.meta.url));

function py(code: string, input: unknown): unknown {
  const out = execFileSync("python3", ["-c", code], { input: JSON.stringify(input), encoding: "utf8", env: { ...process.env, PYTHONPATH: pythonDir }, maxBuffer: 64 * 1024 * 1024 });
  return JSON.parse(out);
}

interface Case {
  selection?: string | string[];
  partitionKey?: string;
  partitionRange?: { start: string; end: string };
  now?: string;
}

const cases: Case[] = [
  {},
  { selection: "*" },
  { selection: "sessions" },
  { selection: "+enriched" },
  { selection: ["countries", "report"] },
  { selection: "sesions" },
  { selection: "+nothing+" },
  { selection: "+sessions", partitionKey: "2024-03-10" },
  { selection: "+sessions", partitionKey: "2024-03-10-05:00" },
  { selection: "+sessions", partitionKey: "2024-03-31" },
  { selection: "+sessions", partitionKey: "2024-04-01" },
  { selection: "weekly_sessions sessions", partitionKey: "2024-03-11" },
  { selection: "+weekly_sessions", partitionRange: { start: "2024-03-04", end: "2024-03-11" } },
  { selection: "+weekly_sessions", partitionRange: { start: "2024-03-11", end: "2024-03-04" } },
  { selection: "+by_region", partitionKey: "eu" },
  { selection: "by_region region_copy", partitionKey: "us" },
  { selection: "by_region region_copy", partitionRange: { start: "eu", end: "apac" } },
  { selection: "+enriched", partitionKey: "2024-03-10" },
  { selection: "countries", partitionKey: "2024-03-10" },
  { selection: "countries report", partitionRange: { start: "a", end: "b" } },
  { selection: "audit sessions", partitionKey: "2024-03-10" },
  { selection: "group:raw", partitionKey: "2024-03-10-05:00" },
  { partitionKey: "2024-03-10" },
  { partitionKey: "eu" },
  { selection: "*", partitionKey: "2024-03-10" },
  { selection: "" },
  { selection: "by_region", partitionRange: { start: "2024-03-10", end: "2024-03-11" } },
  { selection: "sessions", partitionRange: { start: "2024-03-10", end: "2024-03-11" } },
  { selection: "daily_from_week weekly_sessions", partitionKey: "2024-03-05", now: "2024-03-06T00:00:00Z" },
  { selection: "daily_from_week weekly_sessions", partitionKey: "2024-03-02" },
  { selection: "sessions", partitionKey: "2024-03-10", now: "2024-03-10T12:00:00Z" },
  { selection: "sessions", partitionKey: "2024-03-10", partitionRange: { start: "2024-03-10", end: "2024-03-11" } },
  { selection: "+odd_letters", partitionRange: { start: "a", end: "c" } },
  { selection: "+odd_letters", partitionKey: "b" },
  { selection: "+dst/daily", partitionKey: "2024-11-03" },
  { selection: "+dst/daily", partitionRange: { start: "2024-11-02", end: "2024-11-04" } },
  { selection: "dst/hourly+", partitionKey: "2024-11-03" },
];

const ticks: { name: string; at: string }[] = [
  { name: "nightly", at: "2024-03-01T01:00:00Z" },
  { name: "nightly", at: "2024-03-11T01:00:00Z" },
  { name: "nightly", at: "2024-04-01T01:00:00Z" },
  { name: "nightly", at: "2024-04-02T01:00:00Z" },
  { name: "nightly_lagged", at: "2024-04-02T01:00:00Z" },
  { name: "nightly_lagged", at: "2024-04-03T01:00:00Z" },
  { name: "ended_schedule", at: "2024-11-04T11:00:00Z" },
  { name: "ended_schedule", at: "2024-11-05T11:00:00Z" },
  { name: "ended_schedule", at: "2024-11-06T11:00:00Z" },
  { name: "eu_only", at: "2024-03-11T02:00:00Z" },
  { name: "reports", at: "2024-03-11T03:00:00Z" },
];

/** A plan or an error, in the shape both languages print. */
function outcome(run: () => unknown): unknown {
  try {
    return { ok: run() };
  } catch (e) {
    if (!(e instanceof BatonError)) throw e;
    return { error: { code: e.code, asset: e.asset ?? null, message: e.message } };
  }
}

describe("baton_core.plan (Python) against core's planRun", () => {
  const manifest = toManifest(planDefs, { module: "/tmp/defs.js", manifestDir: "/tmp" });

  it("plans every request of the table identically (assets, keys, ranges, skips, warnings, errors)", () => {
    const expected = cases.map((c) =>
      outcome(() => {
        const request: PlanRequest = {
          now: c.now ? new Date(c.now) : PLAN_NOW,
          ...(c.selection !== undefined ? { selection: c.selection } : {}),
          ...(c.partitionKey !== undefined ? { partitionKey: c.partitionKey } : {}),
          ...(c.partitionRange !== undefined ? { partitionRange: c.partitionRange } : {}),
        };
        const p = planRun(planDefs, request);
        return { ...p, firstFailure: firstInRunOrder(p, [...p.assets.map((a) => a.id)].reverse()) ?? null };
      }),
    );
    const out = py(
      `import json, sys
from datetime import datetime
from baton_core import PlanError, plan_run
data = json.load(sys.stdin)
result = []
for c in data["cases"]:
    rng = c.get("partitionRange")
    try:
        p = plan_run(data["manifest"], c.get("selection"), c.get("partitionKey"),
                     (rng["start"], rng["end"]) if rng else None,
                     datetime.fromisoformat((c.get("now") or data["now"]).replace("Z", "+00:00")))
        j = p.to_json()
        for a, planned in zip(j["assets"], p.assets):
            a["ranges"] = None if planned.ranges is None else [{"start": s, "end": e} for s, e in planned.ranges]
        j["firstFailure"] = p.first_in_run_order(reversed(p.asset_ids))
        result.append({"ok": j})
    except PlanError as e:
        result.append({"error": {"code": e.code, "asset": e.asset, "message": str(e)}})
print(json.dumps(result))`,
      { manifest, cases, now: PLAN_NOW.toISOString() },
    );
    expect(out).toEqual(expected);
  });

  it("plans schedule ticks identically (keys, run keys, skips after the end)", () => {
    const expected = ticks.map((t) => outcome(() => planScheduleTick(planDefs, t.name, new Date(t.at))));
    const out = py(
      `import json, sys
from datetime import datetime
from baton_core import PlanError, schedule_tick_plan
data = json.load(sys.stdin)
result = []
for t in data["ticks"]:
    try:
        p = schedule_tick_plan(data["manifest"], t["name"], datetime.fromisoformat(t["at"].replace("Z", "+00:00")))
        plan = None
        if p.plan is not None:
            plan = p.plan.to_json()
            for a, planned in zip(plan["assets"], p.plan.assets):
                a["ranges"] = None if planned.ranges is None else [{"start": s, "end": e} for s, e in planned.ranges]
        result.append({"ok": {"tickTime": p.tick_time, "partitionKey": p.partition_key, "runKey": p.run_key, "skipReason": p.skip_reason, "plan": plan, "targets": p.targets}})
    except PlanError as e:
        result.append({"error": {"code": e.code, "asset": e.asset, "message": str(e)}})
print(json.dumps(result))`,
      { manifest, ticks },
    );
    expect(out).toEqual(expected);
  });

  it("reads an orchestrator's second-pass tick of a repeated hour as Baton's first-pass tick", () => {
    // Dagster and Airflow fire `30 1 * * *` (New York) on 2024-11-03 at 06:30Z, Baton and Prefect at 05:30Z.
    const baton = planScheduleTick(planDefs, "ambiguous", new Date("2024-11-03T05:30:00Z"));
    const out = py(
      `import json, sys
from datetime import datetime
from baton_core import schedule_tick_plan
data = json.load(sys.stdin)
p = [schedule_tick_plan(data["manifest"], "ambiguous", datetime.fromisoformat(at)) for at in ("2024-11-03T05:30:00+00:00", "2024-11-03T06:30:00+00:00")]
print(json.dumps([{"tickTime": t.tick_time, "partitionKey": t.partition_key, "runKey": t.run_key} for t in p]))`,
      { manifest },
    );
    const first = { tickTime: baton.tickTime, partitionKey: baton.partitionKey, runKey: baton.runKey };
    expect(out).toEqual([first, first]);
    expect(baton.partitionKey).toBe("2024-11-02");
  });
});
