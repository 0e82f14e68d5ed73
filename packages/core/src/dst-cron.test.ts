import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { prefectSchedules, ticksBetween } from "./cron.js";
import { dailyPartitions, hourlyPartitions } from "./partitions/define.js";
import { lastCompleteKey } from "./partitions/time.js";
import type { TimePartitionsDefinition } from "./partitions/types.js";

/*
 * Cron ticks at DST changes in the real orchestrators (Dagster 1.13, Airflow 3.3, Prefect 3.9, the
 * venvs their adapters' tests use), against Baton's rule (cron.ts). Two things are pinned:
 * - what each orchestrator itself does (GOLDEN below: an upgrade that changes it fails here), and
 * - that, with what each adapter emits and baton_core's schedule_tick, every runtime runs the same
 *   partitions as Baton's own ticks (Prefect: the very same ticks).
 */

const repo = fileURLToPath(new URL("../../../", import.meta.url));
const pythonDir = fileURLToPath(new URL("../python/", import.meta.url));
const driver = fileURLToPath(new URL("./__tests__/orchestrator_ticks.py", import.meta.url));

type Orchestrator = "dagster" | "airflow" | "prefect";

async function python(name: Orchestrator): Promise<string> {
  // @baton/testing depends on core, so core reaches its helper by path rather than as a dependency.
  const helper = new URL("../../testing/src/python-env.ts", import.meta.url).href;
  const { ensurePythonEnv } = (await import(helper)) as { ensurePythonEnv: (o: { name: string; requirements: string; root?: string }) => { python: string } };
  const requirements = `${repo}packages/adapter-${name}/python/requirements-test.txt`;
  return ensurePythonEnv({ name, requirements, root: process.env.BATON_VENV_ROOT ?? `${repo}.venvs` }).python;
}

const HOUR = 3_600_000;
const Z = (iso: string) => Date.parse(iso);

/** [cron, timezone, from (exclusive), to (inclusive)] around the 2024 DST changes. */
const CASES: [string, string, string, string][] = [
  ["30 1 * * *", "America/New_York", "2024-11-02T12:00:00Z", "2024-11-04T12:00:00Z"],
  ["30 2 * * *", "America/New_York", "2024-03-09T12:00:00Z", "2024-03-11T12:00:00Z"],
  ["0 2 * * *", "America/New_York", "2024-03-09T12:00:00Z", "2024-03-11T12:00:00Z"],
  ["*/20 1 * * *", "America/New_York", "2024-11-02T12:00:00Z", "2024-11-03T12:00:00Z"],
  ["*/20 2 * * *", "America/New_York", "2024-03-09T12:00:00Z", "2024-03-10T12:00:00Z"],
  ["15 * * * *", "America/New_York", "2024-11-03T03:00:00Z", "2024-11-03T09:00:00Z"],
  ["15 * * * *", "America/New_York", "2024-03-10T04:00:00Z", "2024-03-10T09:00:00Z"],
  ["0 * * * *", "America/New_York", "2024-11-03T03:00:00Z", "2024-11-03T09:00:00Z"],
  ["*/30 * * * *", "America/New_York", "2024-11-03T04:00:00Z", "2024-11-03T08:00:00Z"],
  ["0 * * * 0", "America/New_York", "2024-11-03T03:00:00Z", "2024-11-03T09:00:00Z"],
  ["0 1-3 * * *", "America/New_York", "2024-11-02T12:00:00Z", "2024-11-03T12:00:00Z"],
  ["0 1-3 * * *", "America/New_York", "2024-03-09T12:00:00Z", "2024-03-10T12:00:00Z"],
  ["30 1 * * 0", "America/New_York", "2024-10-30T12:00:00Z", "2024-11-04T12:00:00Z"],
  ["30 2 * * 0", "America/New_York", "2024-03-06T12:00:00Z", "2024-03-11T12:00:00Z"],
  ["30 1 3 * *", "America/New_York", "2024-10-30T12:00:00Z", "2024-11-04T12:00:00Z"],
  ["30 2 10 * *", "America/New_York", "2024-03-06T12:00:00Z", "2024-03-11T12:00:00Z"],
  ["30 2 * * *", "Europe/Paris", "2024-10-26T12:00:00Z", "2024-10-28T12:00:00Z"],
  ["30 2 * * *", "Europe/Paris", "2024-03-30T12:00:00Z", "2024-04-01T12:00:00Z"],
  ["0 2 * * *", "Europe/Paris", "2024-10-26T12:00:00Z", "2024-10-28T12:00:00Z"],
  ["0 3 * * *", "Europe/Paris", "2024-10-26T12:00:00Z", "2024-10-28T12:00:00Z"],
  ["30 2 * * *", "Australia/Sydney", "2024-04-06T00:00:00Z", "2024-04-08T00:00:00Z"],
  ["30 2 * * *", "Australia/Sydney", "2024-10-05T00:00:00Z", "2024-10-07T00:00:00Z"],
  ["0 0 * * *", "America/Havana", "2024-11-02T12:00:00Z", "2024-11-04T12:00:00Z"],
  ["0 0 * * *", "America/Santiago", "2024-09-07T00:00:00Z", "2024-09-09T12:00:00Z"],
  ["30 23 * * *", "America/Santiago", "2024-04-05T12:00:00Z", "2024-04-07T12:00:00Z"],
];

interface Case {
  readonly cron: string;
  readonly tz: string;
  readonly from: number;
  readonly to: number;
  readonly partitions: TimePartitionsDefinition[];
  readonly prefect: ReturnType<typeof prefectSchedules>;
}

const cases: Case[] = CASES.map(([cron, tz, from, to]) => {
  const start = new Date(Z(from) - 5 * 24 * HOUR).toISOString().slice(0, 10);
  return {
    cron,
    tz,
    from: Z(from),
    to: Z(to),
    partitions: [hourlyPartitions({ start, timezone: tz }), dailyPartitions({ start, timezone: tz })],
    prefect: prefectSchedules(cron, tz, new Date("2024-01-01T00:00:00Z"), 5),
  };
});

interface Answer {
  readonly ticks: number[];
  readonly runs: number[];
  readonly keys: (string | null)[][];
}

function baton(c: Case): { ticks: number[]; keys: (string | null)[][] } {
  const ticks = ticksBetween(c.cron, c.tz, new Date(c.from), new Date(c.to)).map((d) => d.getTime());
  return { ticks, keys: c.partitions.map((p) => ticks.map((t) => lastCompleteKey(p, new Date(t)) ?? null)) };
}

const hhmm = (t: number) => new Date(t).toISOString().slice(5, 16);

describe("cron ticks at DST changes: Baton's rule, and what Dagster, Airflow and Prefect do", () => {
  const out = {} as Record<Orchestrator, Answer[]>;

  beforeAll(async () => {
    const airflowHome = mkdtempSync(join(tmpdir(), "baton-airflow-home-"));
    for (const name of ["dagster", "airflow", "prefect"] as const) {
      const text = execFileSync(await python(name), [driver, name], {
        input: JSON.stringify({ cases }),
        encoding: "utf8",
        maxBuffer: 16 * 1024 * 1024,
        env: { ...process.env, PYTHONPATH: pythonDir, AIRFLOW_HOME: airflowHome, AIRFLOW__CORE__LOAD_EXAMPLES: "False", PREFECT_HOME: airflowHome, DAGSTER_HOME: "" },
      });
      out[name] = JSON.parse(text) as Answer[];
    }
    if (process.env.BATON_DST_GOLDEN) {
      const golden = Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.map((a) => a.ticks.map(hhmm).join(" "))]));
      console.log(JSON.stringify(golden, null, 2));
    }
  }, 900_000);

  it("each orchestrator ticks as recorded for its pinned version", () => {
    for (const name of ["dagster", "airflow", "prefect"] as const) {
      const got = out[name].map((a) => a.ticks.map(hhmm).join(" "));
      expect(got, name).toEqual(GOLDEN[name]);
    }
  });

  it("every runtime runs the partitions Baton's own ticks run (hourly and daily, last complete window)", () => {
    for (const [i, c] of cases.entries()) {
      const want = baton(c).keys.map((ks) => [...new Set(ks)]);
      for (const name of ["dagster", "airflow", "prefect"] as const) {
        const got = (out[name][i] as Answer).keys.map((ks) => [...new Set(ks)]);
        expect(got, `${name}: ${c.cron} ${c.tz} ${hhmm(c.from)}`).toEqual(want);
      }
    }
  });

  it("Prefect, given prefectSchedules(), ticks exactly at Baton's ticks", () => {
    for (const [i, c] of cases.entries()) {
      expect((out.prefect[i] as Answer).runs.map(hhmm), `${c.cron} ${c.tz} ${hhmm(c.from)}`).toEqual(baton(c).ticks.map(hhmm));
    }
  });
});

/** Ticks (MM-DDTHH:MM, UTC) of each case, as Dagster 1.13.28, Airflow 3.3.2 and Prefect 3.9.1 compute them. */
const GOLDEN: Record<Orchestrator, string[]> = {
  dagster: [
    "11-03T06:30 11-04T06:30",
    "03-10T07:00 03-11T06:30",
    "03-10T07:00 03-11T06:00",
    "11-03T06:00 11-03T06:20 11-03T06:40",
    "03-10T07:00",
    "11-03T03:15 11-03T04:15 11-03T05:15 11-03T06:15 11-03T07:15 11-03T08:15",
    "03-10T04:15 03-10T05:15 03-10T06:15 03-10T07:15 03-10T08:15",
    "11-03T04:00 11-03T05:00 11-03T06:00 11-03T07:00 11-03T08:00 11-03T09:00",
    "11-03T04:30 11-03T05:00 11-03T05:30 11-03T06:00 11-03T06:30 11-03T07:00 11-03T07:30 11-03T08:00",
    "11-03T04:00 11-03T05:00 11-03T06:00 11-03T07:00 11-03T08:00 11-03T09:00",
    "11-03T06:00 11-03T07:00 11-03T08:00",
    "03-10T06:00 03-10T07:00",
    "11-03T06:30",
    "03-10T07:00",
    "11-03T06:30",
    "03-10T07:00",
    "10-27T01:30 10-28T01:30",
    "03-31T01:00 04-01T00:30",
    "10-27T01:00 10-28T01:00",
    "10-27T02:00 10-28T02:00",
    "04-06T16:30 04-07T16:30",
    "10-05T16:00 10-06T15:30",
    "11-03T04:00 11-04T05:00",
    "09-07T04:00 09-08T04:00 09-09T03:00",
    "04-06T02:30 04-07T02:30",
  ],
  airflow: [
    "11-03T06:30 11-04T06:30",
    "03-10T07:30 03-11T06:30",
    "03-10T07:00 03-11T06:00",
    "11-03T06:00 11-03T06:20 11-03T06:40",
    "03-10T07:00",
    "11-03T03:15 11-03T04:15 11-03T05:15 11-03T06:15 11-03T07:15 11-03T08:15",
    "03-10T04:15 03-10T05:15 03-10T06:15 03-10T07:15 03-10T08:15",
    "11-03T04:00 11-03T05:00 11-03T06:00 11-03T07:00 11-03T08:00 11-03T09:00",
    "11-03T04:30 11-03T05:00 11-03T05:30 11-03T06:00 11-03T06:30 11-03T07:00 11-03T07:30 11-03T08:00",
    "11-03T04:00 11-03T05:00 11-03T06:00 11-03T07:00 11-03T08:00 11-03T09:00",
    "11-03T06:00 11-03T07:00 11-03T08:00",
    "03-10T06:00 03-10T07:00",
    "11-03T06:30",
    "03-10T07:30",
    "11-03T06:30",
    "03-10T07:30",
    "10-27T01:30 10-28T01:30",
    "03-31T01:30 04-01T00:30",
    "10-27T01:00 10-28T01:00",
    "10-27T02:00 10-28T02:00",
    "04-06T16:30 04-07T16:30",
    "10-05T16:30 10-06T15:30",
    "11-03T05:00 11-04T05:00",
    "09-07T04:00 09-08T04:00 09-09T03:00",
    "04-06T02:30 04-07T03:30",
  ],
  prefect: [
    "11-03T05:30 11-04T06:30",
    "03-10T07:30 03-11T06:30",
    "03-10T07:00 03-11T06:00",
    "11-03T05:00 11-03T05:20 11-03T05:40",
    "03-10T07:00 03-10T07:20 03-10T07:40",
    "11-03T03:15 11-03T04:15 11-03T05:15 11-03T07:15 11-03T08:15",
    "03-10T04:15 03-10T05:15 03-10T06:15 03-10T07:15 03-10T08:15",
    "11-03T04:00 11-03T05:00 11-03T07:00 11-03T08:00 11-03T09:00",
    "11-03T04:30 11-03T05:00 11-03T05:30 11-03T07:00 11-03T07:30 11-03T08:00",
    "11-03T04:00 11-03T05:00 11-03T07:00 11-03T08:00 11-03T09:00",
    "11-03T05:00 11-03T07:00 11-03T08:00",
    "03-10T06:00 03-10T07:00",
    "11-03T05:30",
    "03-10T07:30",
    "11-03T05:30",
    "03-10T07:30",
    "10-27T00:30 10-28T01:30",
    "03-31T01:30 04-01T00:30",
    "10-27T00:00 10-28T01:00",
    "10-27T02:00 10-28T02:00",
    "04-06T15:30 04-07T16:30",
    "10-05T16:30 10-06T15:30",
    "11-03T04:00 11-04T05:00",
    "09-07T04:00 09-08T04:00 09-09T03:00",
    "04-06T02:30 04-07T02:30",
  ],
};
