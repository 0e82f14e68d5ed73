import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { BatonError } from "./errors.js";
import { dailyPartitions, hourlyPartitions, monthlyPartitions, staticPartitions, validatePartitionsDefinition, weeklyPartitions } from "./partitions/define.js";
import { assertPartitionKey, hasPartitionKey, keysInRange, lastCompleteKey } from "./partitions/time.js";
import type { PartitionsDefinition, TimePartitionsDefinition } from "./partitions/types.js";

/* python/baton_core/partitions.py must follow these TypeScript rules: the adapters check keys with it. */
const pythonDir = fileURLToPath(new URL("../python/", import.meta.url));

function py(code: string, input: unknown): unknown {
  const out = execFileSync("python3", ["-c", code], { input: JSON.stringify(input), encoding: "utf8", env: { ...process.env, PYTHONPATH: pythonDir } });
  return JSON.parse(out);
}

/** The Python `expression` (of `p`, the case's TimePartitions, `at`, its instant, and `case`) for each case. */
function pyTimeCases(expression: string, cases: unknown): unknown {
  return py(
    `import json, sys
from datetime import datetime
from baton_core.partitions import TimePartitions
result = []
for case in json.load(sys.stdin):
    p = TimePartitions(case["def"])
    at = datetime.fromisoformat(case["at"].replace("Z", "+00:00"))
    result.append(${expression})
print(json.dumps(result))`,
    cases,
  );
}

/** The message core's error would give, in the one-line form the Python side uses. */
function coreProblem(run: () => unknown): string | null {
  try {
    run();
    return null;
  } catch (e) {
    if (!(e instanceof BatonError)) throw e;
    return `asset "${e.asset}": ${e.problem}${e.hint && e.problem.startsWith("unknown") ? `; ${e.hint}` : ""}`;
  }
}

const timeDefs: TimePartitionsDefinition[] = [
  hourlyPartitions({ start: "2024-03-30", timezone: "Europe/Paris" }),
  hourlyPartitions({ start: "2024-10-26", end: "2024-10-29", timezone: "America/New_York", format: "%Y%m%d%H" }),
  dailyPartitions({ start: "2024-01-01", timezone: "Europe/Paris" }),
  dailyPartitions({ start: "2024-01-01", end: "2024-03-01" }),
  weeklyPartitions({ start: "2024-01-07", weekStartsOn: 0, timezone: "Asia/Tokyo" }),
  monthlyPartitions({ start: "2023-11-01", timezone: "Australia/Sydney", format: "%Y-%m" }),
];
const instants = ["2024-03-31T00:30:00Z", "2024-03-31T01:00:00Z", "2024-03-31T02:30:00Z", "2024-10-27T05:30:00Z", "2024-11-03T06:30:00Z", "2024-01-05T01:30:00Z", "2024-02-29T23:00:00Z", "2024-06-01T00:00:00Z", "2025-01-01T00:00:00Z"];
const keys = ["2024-03-31-01:00", "2024-03-31-02:00", "2024-03-31-03:00", "2024102701", "2024110301", "2024-01-04", "2024-02-29", "2024-03-01", "2024-01-07", "2024-01-08", "2024-02", "2023-12", "2024-1-01"];

describe("baton_core.partitions (Python) against core's TypeScript rules", () => {
  it("computes the same last complete windows and valid keys, across DST and grains", () => {
    const cases = timeDefs.flatMap((def) => instants.map((at) => ({ def, at, keys })));
    const expected = cases.map(({ def, at, keys }) => ({
      last: [0, 1].map((offset) => lastCompleteKey(def, new Date(at), offset) ?? null),
      valid: keys.filter((k) => hasPartitionKey(def, k, new Date(at))),
    }));
    const out = pyTimeCases(`{"last": [p.last_complete_key(at, o) for o in (0, 1)], "valid": [k for k in case["keys"] if p.has_key(k, at)]}`, cases);
    expect(out).toEqual(expected);
  });

  it("refuses the same keys and ranges with the same words (key, why, valid range)", () => {
    const defs: PartitionsDefinition[] = [...timeDefs, staticPartitions(["eu", "us", "apac"])];
    const ranges: [string, string][] = [["2024-01-04", "2024-02-29"], ["2024-02-29", "2024-01-04"], ["us", "eu"], ["eu", "apac"], ["2024-02", "2023-12"], ["mars", "eu"]];
    const now = "2024-03-01T12:00:00Z";
    const cases = defs.flatMap((def) => [...keys, "eu", "mars"].map((key) => ({ def, first: key, last: null as string | null })).concat(ranges.map(([first, last]) => ({ def, first, last }))));
    const expected = cases.map(({ def, first, last }) =>
      coreProblem(() => (last === null ? assertPartitionKey(def, first, "a/b", new Date(now)) : keysInRange(def, { start: first, end: last }, new Date(now), "a/b"))),
    );
    const out = py(
      `import json, sys
from datetime import datetime
from baton_core.partitions import PartitionError, check_key, check_range
now = datetime.fromisoformat("${now.replace("Z", "+00:00")}")
result = []
for case in json.load(sys.stdin):
    try:
        if case["last"] is None:
            check_key(case["def"], case["first"], "a/b", now)
        else:
            check_range(case["def"], case["first"], case["last"], "a/b", now)
        result.append(None)
    except PartitionError as e:
        result.append(str(e))
print(json.dumps(result))`,
      cases,
    );
    expect(out).toEqual(expected);
    // Not vacuous: accepted keys, every kind of refusal and a reversed range are among the cases.
    const texts = expected.join("\n");
    for (const part of ["not the start of", "outside the partitions'", "its window is not complete", "ends before it starts", "valid keys: "]) expect(texts).toContain(part);
    expect(expected).toContain(null);
  });

  it("reads FIRST...LAST ranges as baton-step takes them", () => {
    const out = py(
      `import json, sys
from baton_core.partitions import PartitionError, parse_range
result = []
for text in json.load(sys.stdin):
    try:
        result.append(list(parse_range(text)))
    except PartitionError as e:
        result.append(str(e))
print(json.dumps(result))`,
      ["2024-01-01...2024-01-07", "2024-01-01", "...x"],
    );
    expect(out).toEqual([["2024-01-01", "2024-01-07"], 'partition range "2024-01-01" is not of the form "FIRST...LAST"', 'partition range "...x" is not of the form "FIRST...LAST"']);
  });
});

describe("static partition keys (issue 10, defect 4): baton_core refuses the keys core refuses, with the same words", () => {
  it("agrees with validatePartitionsDefinition on hostile and ordinary keys", () => {
    const keys: unknown[] = [
      ".", "..", "__unpartitioned__", "x\ny", "a\rb", "tab\there", "nul\u0000", "del\u007f", "nel\u0085", "line\u2028sep", "para\u2029",
      "2024...2025", "...", "eu/west", "eu,us", " eu", "eu ", "\u00a0eu", "\ufeffeu", "", "   ", "\n", 1, null,
      "eu", "v1.2", "a..b", "end.", ".hidden", "__x__", "é", "日本", "it's", "50%",
    ];
    const defs: unknown[] = [...keys.map((k) => ({ type: "static", keys: ["ok", k] })), { type: "static", keys: [] }, { type: "static", keys: ["a", "a"] }];
    const expected = defs.map((d) => validatePartitionsDefinition(d) ?? null);
    const out = py(
      `import json, sys
from baton_core.partitions import PartitionError, StaticPartitions, static_partitions_problem
result = []
for d in json.load(sys.stdin):
    problem = static_partitions_problem(d)
    try:
        StaticPartitions(d)
        raised = None
    except PartitionError as e:
        raised = str(e)
    assert raised == problem, (raised, problem)
    result.append(problem)
print(json.dumps(result))`,
      defs,
    );
    expect(out).toEqual(expected);
    // Not vacuous: every new refusal is among the cases, and ordinary keys pass.
    const texts = expected.join("\n");
    for (const part of ["is reserved", "control character or line break", 'contains "..."', "leading or trailing whitespace", "listed twice"]) expect(texts).toContain(part);
    expect(expected.filter((p) => p === null)).toHaveLength(10);
  });
});

describe("baton_core.partitions (Python) on DST days, against core's TypeScript", () => {
  const ny = hourlyPartitions({ start: "2024-11-02T00:00", end: "2024-11-05T00:00", timezone: "America/New_York" });
  const nySpring = hourlyPartitions({ start: "2024-03-09T00:00", timezone: "America/New_York", format: "%Y%m%d%H" });
  const sydney = hourlyPartitions({ start: "2024-04-06T00:00", timezone: "Australia/Sydney" });
  const defs = [ny, nySpring, sydney, dailyPartitions({ start: "2024-11-01", timezone: "America/New_York" })];
  const dstKeys = [
    "2024-11-03-01:00",
    "2024-11-03-01:00-0500",
    "2024-11-03-01:00-0400",
    "2024-11-03-02:00-0500",
    "2024-11-03-01:00-05:00",
    "2024-03-10-02:00",
    "2024031002",
    "2024031001",
    "2024031003",
    "2024-04-07-02:00",
    "2024-04-07-02:00+1000",
    "2024-04-07-02:00+1100",
    "2024-11-03",
    "2024-11-03-0500",
  ];

  it("accepts the offset-suffixed second pass of a repeated hour and refuses the same keys with the same words", () => {
    const nows = ["2024-11-03T06:30:00Z", "2024-11-03T07:00:00Z", "2024-12-01T00:00:00Z"];
    const cases = defs.flatMap((def) => nows.flatMap((now) => dstKeys.map((key) => ({ def, key, now }))));
    const expected = cases.map(({ def, key, now }) => coreProblem(() => assertPartitionKey(def, key, "a/b", new Date(now))));
    const out = py(
      `import json, sys
from datetime import datetime
from baton_core.partitions import PartitionError, check_key
result = []
for case in json.load(sys.stdin):
    try:
        check_key(case["def"], case["key"], "a/b", datetime.fromisoformat(case["now"].replace("Z", "+00:00")))
        result.append(None)
    except PartitionError as e:
        result.append(str(e))
print(json.dumps(result))`,
      cases,
    );
    expect(out).toEqual(expected);
    // Not vacuous: the second pass is accepted once complete, and refused (incomplete) before.
    expect(expected[dstKeys.indexOf("2024-11-03-01:00-0500") + 2 * dstKeys.length]).toBeNull();
    expect(expected[dstKeys.indexOf("2024-11-03-01:00-0500")]).toContain("its window is not complete: it ends at 2024-11-03T02:00:00.000-05:00");
  });

  it("finds the same last complete key through the repeated and the skipped hour", () => {
    const instants = Array.from({ length: 16 }, (_, i) => new Date(Date.parse("2024-11-03T04:00:00Z") + i * 15 * 60_000).toISOString())
      .concat(Array.from({ length: 12 }, (_, i) => new Date(Date.parse("2024-03-10T05:00:00Z") + i * 15 * 60_000).toISOString()))
      .concat(Array.from({ length: 12 }, (_, i) => new Date(Date.parse("2024-04-06T14:00:00Z") + i * 15 * 60_000).toISOString()));
    const cases = defs.flatMap((def) => instants.map((at) => ({ def, at })));
    const expected = cases.map(({ def, at }) => (def.type === "time" ? [0, 1].map((o) => lastCompleteKey(def, new Date(at), o) ?? null) : null));
    const out = pyTimeCases(`[p.last_complete_key(at, o) for o in (0, 1)]`, cases);
    expect(out).toEqual(expected);
    expect(expected.flat()).toContain("2024-11-03-01:00-0500");
  });

  it("knows the crons that repeat every hour as core's cron.ts does, and reads a Dagster/Airflow second-pass tick as Baton's first", async () => {
    const { repeatsEveryHour } = await import("./cron.js");
    const crons = ["0 * * * *", "*/5 * * * *", "15 0-23 * * 1-5", "0 0-11,12-23 * * *", "0 */2 * * *", "30 1 * * *", "0 1-3 * * *", "@hourly", "@daily", "0 0 1 * *"];
    const out = py(
      `import json, sys
from datetime import datetime
from baton_core.partitions import repeats_every_hour, schedule_tick
crons = json.load(sys.stdin)
fired = [datetime.fromisoformat(t) for t in ("2024-11-03T06:30:00+00:00", "2024-11-03T05:30:00+00:00", "2024-03-10T07:00:00+00:00")]
ticks = [schedule_tick(f, c, "America/New_York").isoformat() for c in ("30 1 * * *", "30 * * * *") for f in fired]
print(json.dumps({"every": [repeats_every_hour(c) for c in crons], "ticks": ticks}))`,
      crons,
    );
    expect(out).toEqual({
      every: crons.map((c) => repeatsEveryHour(c)),
      // 01:30 EST (Dagster's and Airflow's tick) is Baton's 01:30 EDT; every-hour crons keep both passes.
      ticks: ["2024-11-03T05:30:00+00:00", "2024-11-03T05:30:00+00:00", "2024-03-10T07:00:00+00:00", "2024-11-03T06:30:00+00:00", "2024-11-03T05:30:00+00:00", "2024-03-10T07:00:00+00:00"],
    });
  });
});
