import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, openSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { freePort, waitFor } from "@baton/testing";
import { prefectApi, type Json } from "./__tests__/prefect/api.js";
import { packageDir, prefectEnv } from "./__tests__/prefect/env.js";

/*
 * `baton prefect dev --port N` on the example project, as a user runs it: core builds, then a real
 * Prefect 3.9.1 server with its UI on port N and `python flows.py` serving every deployment. What the
 * UI would show is read from the server's REST API (and the UI's own /ui-settings).
 */
const EXAMPLE = fileURLToPath(new URL("../../../examples/customer-metrics/", import.meta.url));
const SENSOR = "orders_landed";

const HOUR_MS = 3_600_000;
/** Room the sensor's hand-started run needs before its period ends: its first tick and the checks on it. */
const PERIOD_MARGIN_MS = 300_000;

describe("baton prefect dev", { timeout: 600_000 }, () => {
  let dev: ChildProcess | undefined;
  const dir = mkdtempSync(join(tmpdir(), "baton-prefect-dev-"));
  const log = join(dir, "dev.log");

  afterAll(async () => {
    if (dev?.pid === undefined || dev.exitCode !== null) return;
    const gone = new Promise<void>((r) => dev!.once("exit", () => r()));
    dev.kill("SIGINT"); // as Ctrl-C: it stops `serve`, then the server
    const timer = setTimeout(() => dev?.kill("SIGKILL"), 60_000);
    await gone;
    clearTimeout(timer);
  }, 120_000);

  it("points the UI at the API on --port N, and a sensor polls only once turned on: one long-lived flow run that ticks until the schedule is off", async () => {
    const port = await freePort();
    const python = prefectEnv().python;
    const env: Record<string, string | undefined> = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("PREFECT_")));
    const out = openSync(log, "a");
    dev = spawn(process.execPath, [join(packageDir("@baton/core"), "dist/cli/bin.js"), "prefect", "dev", "--out", join(dir, "build"), "--python", python, "--port", String(port)], {
      cwd: EXAMPLE,
      // The scheduler looks every second (default 60 s), so that "no run yet" is checked after it looked.
      env: { ...env, PREFECT_HOME: join(dir, "prefect"), PREFECT_SERVER_ANALYTICS_ENABLED: "false", PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS: "1" },
      stdio: ["ignore", out, out],
    });
    const api = prefectApi(`http://127.0.0.1:${port}/api`);
    // As the UI's schedule toggle does; retried while SQLite is locked (503), as prefectApi does.
    const setActive = (d: Json, active: boolean) =>
      waitFor(
        async () => {
          const response = await fetch(`http://127.0.0.1:${port}/api/deployments/${d.id}/schedules/${d.schedules[0].id}`, { method: "PATCH", headers: { "content-type": "application/json" }, body: JSON.stringify({ active }) });
          if (!response.ok) throw new Error(`${response.status} ${await response.text()}`);
          return true;
        },
        { what: `PATCH the schedule of ${d.name} to active: ${active}`, intervalMs: 1000 },
      );
    const why = () => `; the dev log:\n${readFileSync(log, "utf8").split("\n").slice(-30).join("\n")}`;

    // The UI asks /ui-settings where the API is (prefect/server/api/server.py): port N, not 4200.
    const settings = await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/ui-settings`)).json() as Promise<Json>, { what: `the UI's settings on port ${port}${why()}`, timeoutMs: 300_000 });
    expect(settings.api_url).toBe(`http://127.0.0.1:${port}/api`);

    const deployment = (name: string) => async () => (await api<Json[]>("POST", "/deployments/filter", { deployments: { name: { any_: [name] } } }))[0];
    const runsOf = (id: string) => api<Json[]>("POST", "/flow_runs/filter", { flow_runs: { deployment_id: { any_: [id] } }, sort: "EXPECTED_START_TIME_ASC" });
    const sensor = await waitFor(deployment(SENSOR), { what: `serve to apply the deployment ${SENSOR}${why()}`, timeoutMs: 300_000 });
    const nightly = await waitFor(deployment("nightly_revenue"), { what: "the deployment nightly_revenue" });
    // The scheduler has looked since serve applied the deployments: the active cron has its runs...
    await waitFor(async () => (await runsOf(nightly.id)).length > 0, { what: "the scheduler to schedule runs of nightly_revenue" });
    // ...and the sensor, deployed with its schedule off, has none: nothing polls before the user turns it on.
    expect(sensor.schedules.map((s: Json) => [s.schedule.interval, s.active])).toEqual([[3600, false]]);
    expect(await runsOf(sensor.id)).toEqual([]);

    // A run started by hand polls until its period ends at the next full hour (sensors.py), when the scheduled run
    // takes over: started within minutes of the hour it would end on time, not because a tick ended it. Start it
    // in a period with room for the checks below.
    const toHour = () => HOUR_MS - (Date.now() % HOUR_MS);
    if (toHour() < PERIOD_MARGIN_MS) await waitFor(() => toHour() > PERIOD_MARGIN_MS, { what: "the next hour's sensor period to begin", timeoutMs: PERIOD_MARGIN_MS + 120_000 });
    // Turn it on (the UI's schedule toggle) and start it now (the UI's Run), rather than at the next full hour.
    await setActive(sensor, true);
    const started = await api("POST", `/deployments/${sensor.id}/create_flow_run`, {});
    const logsOf = async (id: string) => (await api<Json[]>("POST", "/logs/filter", { logs: { flow_run_id: { any_: [id] } }, sort: "TIMESTAMP_ASC" })).map((l) => String(l.message));
    await waitFor(async () => (await logsOf(started.id)).some((m) => m.includes(`Tick 1 of ${SENSOR}: skipped: no new orders drop`)), { what: `the first tick in the logs of flow run ${started.id}${why()}`, timeoutMs: 300_000 });
    const running = await api("GET", `/flow_runs/${started.id}`);
    expect(running.state.type, "the sensor's flow run ended after one tick").toBe("RUNNING");
    // Further runs are the schedule's, one per full hour (24 a day, not one per tick).
    const upcoming = (await runsOf(sensor.id)).filter((r) => r.id !== started.id);
    expect(upcoming.length).toBeGreaterThan(0);
    for (const r of upcoming) expect(new Date(r.expected_start_time).getTime() % 3_600_000).toBe(0);

    // Turned off, the loop ticks no more: it stops when it wakes for its next tick (60 s later).
    await setActive(sensor, false);
    const ended = await waitFor(async () => {
      const run = await api("GET", `/flow_runs/${started.id}`);
      return ["COMPLETED", "FAILED", "CRASHED", "CANCELLED"].includes(run.state.type) ? run : undefined;
    }, { what: `flow run ${started.id} to end after its schedule was turned off${why()}`, timeoutMs: 300_000 });
    expect(ended.state.type).toBe("COMPLETED");
    const periodEnded = Math.floor(Date.parse(running.start_time) / 3_600_000) !== Math.floor(Date.parse(ended.end_time) / 3_600_000);
    // (Unless the test straddled a full hour: the run's period ended first, and the scheduled run took over.)
    if (!periodEnded) {
      // The run's last logs reach the API in a batch, after its final state.
      const stopped = `Sensor ${SENSOR} stops after tick 1: its schedule was turned off`;
      const messages = await waitFor(async () => {
        const m = await logsOf(started.id);
        return m.some((x) => x.includes(stopped)) ? m : undefined;
      }, { what: `"${stopped}" in the logs of flow run ${started.id}` });
      expect(messages.filter((m) => m.startsWith("Tick "))).toHaveLength(1);
    }
  });
});
