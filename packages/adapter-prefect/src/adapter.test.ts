import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { asset, assetCheck, dailyPartitions, definitions, input as assetInput, schedule, sensor, loadDefinitions, toManifest, type Definitions, type Manifest } from "@baton/core";
import type { BuildInput } from "@baton/core/build";
import { portabilityProblems } from "@baton/testing";
import { fixtureModulePath } from "@baton/testing/fixtures";
import { adapter } from "./cli.js";
import { sensorPeriod } from "./deployments.js";
import type { PrefectOptions } from "./options.js";
import { pyLiteral } from "./python-literal.js";

/* The adapter on its own (problems, emit, plan), without core's runner or Prefect. */
const module = fixtureModulePath();
const fixtures = await loadDefinitions(module, "default");
const manifestOf = (defs: Definitions): Manifest => toManifest(defs, { module, exportName: "default", manifestDir: "/build/baton", moduleHash: `sha256:${"0".repeat(64)}` });
const fixtureManifest = manifestOf(fixtures);

const options = (raw: Record<string, unknown> = {}): PrefectOptions => adapter.resolveOptions({ "flow-name": "fixtures", ...raw }, { name: undefined });
const input = (o: PrefectOptions = options(), manifest = fixtureManifest, projectName?: string): BuildInput<PrefectOptions> => ({ manifest, options: o, storage: null, projectName });
const files = (i = input()) => Object.fromEntries(adapter.emit(i).map((f) => [f.path, String(f.content)]));

const x = asset({ key: "x", compute: () => undefined, output: "none" });

/** An asset with an inline check, a standalone check with an input of its own, and one on a daily asset reading another's previous day. */
const notRun = (): never => {
  throw new Error("computes never run here");
};
const orders = asset({ key: "orders", compute: notRun, checks: [{ name: "not_empty", check: () => true }] });
const customers = asset({ key: "customers", compute: notRun });
const days = dailyPartitions({ start: "2024-01-01" });
const clicks = asset({ key: "clicks", partitions: days, compute: notRun });
const events = asset({ key: "events", partitions: days, compute: notRun });
const checked = definitions({
  assets: [orders, customers, events, clicks],
  checks: [
    assetCheck({ name: "orders_have_customers", asset: orders, inputs: { customers }, check: () => true }),
    assetCheck({ name: "has_events", asset: events, severity: "warn", inputs: { before: assetInput(clicks, { partitionMapping: { type: "timeWindow", offset: -1 } }) }, check: () => true }),
  ],
});

/** The project's ruff (scripts/requirements-lint.txt) with its defaults, as a user's own `ruff check` sees generated code. */
function ruff(dir: string): string {
  const pin = readFileSync(new URL("../../../scripts/requirements-lint.txt", import.meta.url), "utf8").trim();
  return execFileSync("uvx", ["--from", pin, "ruff", "check", "--isolated", "--no-cache", dir], { encoding: "utf8" });
}

describe("prefect adapter: options", () => {
  it("takes flags and package.json spellings, defaults the work pool and the flow name", () => {
    expect(adapter.resolveOptions({}, { name: undefined })).toEqual({ flowName: "baton", resources: {}, workPool: "baton", storageSecret: null, cache: false });
    expect(adapter.resolveOptions({ cache: true }, { name: undefined }).cache).toBe(true);
    expect(() => adapter.resolveOptions({ cache: "yes" }, { name: undefined })).toThrow(/--cache/);
    expect(adapter.resolveOptions({ flowName: "shop", workPool: "local", resources: { landing: { block: "l" } }, storageSecret: "baton-s3" }, { name: undefined })).toEqual({ flowName: "shop", resources: { landing: { block: "l" } }, workPool: "local", storageSecret: "baton-s3", cache: false });
    expect(adapter.resolveOptions({ "storage-secret": "shop-s3" }, { name: undefined }).storageSecret).toBe("shop-s3");
    expect(() => adapter.resolveOptions({ "work-pool": "" }, { name: undefined })).toThrow(/--work-pool/);
    expect(() => adapter.resolveOptions({ resources: [] }, { name: undefined })).toThrow(/--resources: must be a JSON object/);
    // No --flow-name: the package name without its scope.
    expect(files(input(adapter.resolveOptions({}, { name: "@acme/shop" }), fixtureManifest, "@acme/shop"))["flows.py"]).toContain('@flow(\n    name="shop",');
    expect(files(input(adapter.resolveOptions({}, { name: undefined }), fixtureManifest, undefined))["flows.py"]).toContain('@flow(\n    name="baton",');
  });

  it("declares its runtime, wheel and the exact Prefect pin", () => {
    expect(adapter.runtime).toEqual({ stepPackage: "@baton/core", stepBin: "dist/step/bin.js" });
    const python = adapter.python();
    expect(python.requirements).toEqual(["prefect==3.9.1"]);
    expect(python.wheels).toHaveLength(1);
    expect(python.wheels[0]).toMatch(/\/python\/dist\/baton_prefect-0\.1\.0-py3-none-any\.whl$/);
  });
});

describe("prefect adapter: emit", () => {
  it("writes flows.py and prefect.yaml only, deterministically, with no absolute path or '..'", () => {
    const a = files();
    expect(Object.keys(a).sort()).toEqual(["flows.py", "prefect.yaml"]);
    expect(files()).toEqual(a);
    const dir = mkdtempSync(join(tmpdir(), "baton-prefect-emit-"));
    for (const [file, text] of Object.entries(a)) writeFileSync(join(dir, file), text);
    expect(portabilityProblems(dir)).toEqual([]);
  });

  it("flows.py imports the installed baton_prefect and reads baton/manifest.json and build.json next to itself", () => {
    const flows = files()["flows.py"]!;
    expect(flows).toContain("from datetime import UTC, datetime\nfrom pathlib import Path\n");
    expect(flows).toContain("from baton_prefect import BatonProject, task_runner\nfrom prefect import flow, serve\nfrom prefect.schedules import Cron, Interval\n");
    expect(flows).toContain("PROJECT_DIR = Path(__file__).resolve().parent\n");
    expect(flows).toContain('project = BatonProject.from_build(\n    PROJECT_DIR / "baton" / "manifest.json", flow_name="fixtures"\n)');
    expect(flows).not.toMatch(/sys\.path|BATON_PROJECT_DIR|RESOURCES/);
    expect(flows).toContain('@flow(\n    name="fixtures",');
    expect(flows).toContain('@flow(name="fixtures-sensors"');
    expect(flows).toContain(
      `materialize.to_deployment(
            "daily_events",
            schedules=[Cron("0 2 * * *", timezone="Europe/Paris")],
            parameters={"assets": ["web/events", "daily_event_counts"], "schedule": "daily_events"},`,
    );
    expect(flows).toContain(
      `sensors.to_deployment(
            "new_event_files",
            schedules=[Interval(3600, anchor_date=SENSOR_ANCHOR, active=False)],
            parameters={
                "sensor": "new_event_files",
                "target": "fixtures/new_event_files-runs",
                "period_seconds": 3600,
            },`,
    );
    // One flow run per hour polls every 30 s; the schedule starts off and keeps what the user set.
    expect(flows).toContain('if __name__ == "__main__":\n    # A sensor\'s schedule stays as you set it in Prefect (the UI\'s toggle); new ones start off.\n    serve(*project.keep_sensor_schedules(deployments()))');
    expect(flows).toContain("def evaluate_sensor(sensor: str, target: str, period_seconds: float = 0)");
    expect(flows).toContain('    materialize = materialize_assets.from_source(str(PROJECT_DIR), "flows.py:materialize_assets")\n');
  });

  it("a sensor's flow run polls for a whole number of its intervals, at least an hour (the next run's first tick comes an interval after)", () => {
    expect([30, 7, 3600, 7200, 0.5].map(sensorPeriod)).toEqual([3600, 3605, 3600, 7200, 3600]);
  });

  it("an every-hour cron ticks in both passes of a repeated autumn hour, as Baton's schedules do (core's prefectSchedules)", () => {
    const defs: Definitions = definitions({
      assets: [x],
      schedules: [
        schedule({ name: "half_past", cron: "30 * * * *", timezone: "America/New_York", selection: "x" }),
        schedule({ name: "november_hours", cron: "15 * * 11 *", timezone: "America/New_York", selection: "x" }),
        schedule({ name: "nightly", cron: "30 1 * * *", timezone: "America/New_York", selection: "x" }),
      ],
    });
    const out = files(input(options(), manifestOf(defs)));
    const flows = out["flows.py"]!;
    expect(flows).toContain(`schedules=[Cron("30 * * * *", timezone="UTC")]`);
    expect(flows).toMatch(/schedules=\[Cron\("15 \* \* 11 \*", timezone="America\/New_York"\), RRule\("RDATE:20241103T061500Z,20251102T061500Z,/);
    expect(flows).toContain(`schedules=[Cron("30 1 * * *", timezone="America/New_York")]`);
    expect(flows).toContain("from prefect.schedules import Cron, RRule\n");
    expect(out["prefect.yaml"]).toContain(`  - rrule: "RDATE:20241103T061500Z,`);
  });

  it("prefect.yaml declares the same deployments for the work pool, with a pull step from the folder it is deployed from", () => {
    const yaml = files(input(options({ "work-pool": "local" })))["prefect.yaml"]!;
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
    // A sensor's period (one flow run polling for an hour), deployed off.
    expect(yaml).toContain('  - interval: 3600\n    anchor_date: "2024-01-01T00:00:00+00:00"\n    active: false\n');
    // materialize, checks (the fixtures have checks), one per schedule, two per sensor.
    expect(yaml.match(/^- name:/gm)).toHaveLength(2 + fixtureManifest.schedules.length + 2 * fixtureManifest.sensors.length);
    expect(yaml).toContain("- prefect.deployments.steps.run_shell_script:\n    id: baton-project-dir\n    script: pwd\n");
    // The worker's own copy (BATON_PROJECT_DIR), else the folder deploy ran in, is the working directory.
    expect(yaml).toContain(
      '- prefect.deployments.steps.run_shell_script:\n    id: baton-worker-dir\n    script: "echo \\"${BATON_PROJECT_DIR:-$BATON_DEPLOYED_DIR}\\""\n    shell: true\n    env:\n      BATON_DEPLOYED_DIR: "{{ baton-project-dir.stdout }}"\n',
    );
    expect(yaml).toContain('- prefect.deployments.steps.set_working_directory:\n    directory: "{{ baton-worker-dir.stdout }}"\n');
  });

  it("definitions with checks get the checks flow and its deployment `checks`; without, neither", () => {
    const out = files(input(options(), manifestOf(checked)));
    const flows = out["flows.py"]!;
    expect(flows).toContain('@flow(\n    name="fixtures-checks",');
    expect(flows).toContain("def check_assets(\n    checks: list[str] | None = None,\n    partition_key: str | None = None,");
    expect(flows).toContain("    return project.check(checks, partition_key, partition_range_start, partition_range_end)\n");
    expect(flows).toContain('    checks = check_assets.from_source(str(PROJECT_DIR), "flows.py:check_assets")\n');
    expect(flows).toContain('        checks.to_deployment(\n            "checks",\n');
    expect(out["prefect.yaml"]).toContain('- name: "checks"\n  description: "Run Baton checks alone against the stored outputs, materializing nothing (every check when `checks` is empty)."\n  entrypoint: "flows.py:check_assets"\n  tags: ["baton","baton-checks"]\n  parameters: {}\n  schedules: []\n');
    expect(files(input(options(), manifestOf(checked)))).toEqual(out);
    const none = files(input(options(), manifestOf(definitions({ assets: [x] }))));
    expect(none["flows.py"]).not.toMatch(/check_assets|-checks/);
    expect(none["prefect.yaml"]).not.toContain("check_assets");
  });

  it("flows.py is clean under ruff's defaults, with and without checks, sensors and schedules", () => {
    for (const manifest of [fixtureManifest, manifestOf(checked), manifestOf(definitions({ assets: [x] }))]) {
      const dir = mkdtempSync(join(tmpdir(), "baton-prefect-ruff-"));
      writeFileSync(join(dir, "flows.py"), files(input(options(), manifest))["flows.py"]!);
      expect(ruff(dir)).toContain("All checks passed!");
    }
  });

  it("refuses to emit what breaks Prefect's rules, listing each problem", () => {
    expect(() => files(input(options({ "flow-name": "a/b" })))).toThrow(/flow name "a\/b" \(--flow-name, else the package name\) contains \//);
  });
});

describe("prefect adapter: problems", () => {
  const problems = (o: PrefectOptions, manifest = fixtureManifest) => adapter.problems(manifest, o);

  it("has none for the fixtures with their resource mapping", () => {
    expect(problems(options({ "storage-secret": "baton-s3" }))).toEqual([]);
    expect(problems(options({ "storage-secret": "Baton_S3" }))).toEqual([expect.stringMatching(/storage secret "Baton_S3" \(--storage-secret\) is not a block document name/)]);
    expect(problems(options({ resources: { audit_api: { fields: { token: { secret: "fixture-api-token" }, url: { variable: "fixture_api_url" } } }, landing: { block: "fixture-landing" } } }))).toEqual([]);
  });

  it("names each resource mapping that cannot work", () => {
    const found = problems(
      options({
        resources: {
          nope: { block: "x" },
          audit_api: { fields: { tokn: { secret: "x" }, token: { variable: "audit_token" }, url: { variable: "Not Valid" } } },
          landing: { block: "Landing_Zone", fields: { dir: { file: "x" } } },
        },
      }),
    ).join("\n");
    expect(found).toMatch(/there is no resource "nope"/);
    expect(found).toMatch(/resource "audit_api" has no config field "tokn"/);
    expect(found).toMatch(/field "token" is a secret but is mapped to the Variable "audit_token"/);
    expect(found).toMatch(/"Not Valid" is not a Prefect Variable name/);
    // Prefect's block document names are lowercase letters, digits and dashes.
    expect(found).toMatch(/block "Landing_Zone" is not a block document name/);
    expect(found).toMatch(/field "dir": \{"file":"x"\} is not a source/);
  });

  it("names flows, deployments and work pools Prefect refuses, and deployment names that collide", () => {
    expect(problems(options({ "flow-name": "a%b" }))).toEqual([expect.stringMatching(/flow name "a%b" .* contains %/)]);
    expect(problems(options({ "work-pool": "prefect-pool" }))).toEqual([expect.stringMatching(/"prefect-pool" \(--work-pool\) starts with "prefect", which Prefect reserves/)]);
    expect(problems(options({ "work-pool": "a<b" }))).toEqual([expect.stringMatching(/work pool name "a<b" \(--work-pool\) contains </)]);
    const defs = definitions({
      assets: [x],
      schedules: [schedule({ name: "materialize", cron: "0 * * * *", selection: "x" }), schedule({ name: "nightly", cron: "0 1 * * *", selection: "x", description: "uses {{ $HOME }}" })],
    });
    const found = problems(options(), manifestOf(defs));
    expect(found).toContainEqual(expect.stringMatching(/two Prefect deployments of one flow would be named "materialize"/));
    expect(found).toContainEqual(expect.stringMatching(/deployment "nightly": its description contains a Prefect template placeholder/));
  });

  it("names a sensor whose cursor Variable would be longer than Prefect allows", () => {
    const long = "s".repeat(250);
    const defs = definitions({ assets: [x], sensors: [sensor({ name: long, selection: "x", evaluate: () => ({ runRequests: [] }) })] });
    expect(problems(options(), manifestOf(defs))).toEqual([expect.stringMatching(new RegExp(`sensor "${long}": its cursor Variable .* longer than Prefect's 255`))]);
  });
});

describe("prefect adapter: plan", () => {
  it("covers every asset, edge, schedule and sensor", () => {
    const plan = adapter.plan(fixtureManifest, options());
    expect(plan.target).toBe("prefect");
    expect(plan.assets.map((a) => a.id)).toEqual(fixtureManifest.assets.map((a) => a.id));
    const metrics = plan.assets.find((a) => a.id === "customer_metrics")!;
    expect(metrics.becomes).toEqual([
      expect.stringContaining('task "customer_metrics" in flow "fixtures" (deployment "fixtures/materialize", work pool "baton")'),
      expect.stringContaining("Prefect asset <store>/customer_metrics (its folder in the store; baton://customer_metrics when the store cannot be a key): a prefect.asset.materialization.succeeded event"),
      '1 inline check in the task of "customer_metrics"',
      'alone: flow "fixtures-checks" (deployment "fixtures-checks/checks", parameter checks ["customer_metrics:<check>"]), a task run per check',
    ]);
    expect(plan.edges).toContainEqual({ from: "raw/orders", to: "customer_metrics", via: "task wait_for + asset_deps" });
    expect(plan.edges).toHaveLength(fixtureManifest.assets.reduce((n, a) => n + new Set(a.deps.map((d) => d.id)).size, 0));
    expect(plan.schedules.map((s) => s.name)).toEqual(fixtureManifest.schedules.map((s) => s.name));
    expect(plan.schedules.find((s) => s.name === "daily_events")!.becomes).toBe('deployment "fixtures/daily_events" on cron "0 2 * * *" in Europe/Paris, running 2 assets');
    expect(plan.sensors.find((s) => s.name === "new_event_files")!.becomes).toContain('deployment "fixtures-sensors/new_event_files" (its schedule off until you turn it on): one flow run per 3600 s, ticking every 30 s');
    expect(plan.sensors.find((s) => s.name === "new_event_files")!.becomes).toContain('starting the deployment "fixtures/new_event_files-runs" once per run key');
    expect(plan.assets.find((a) => a.id === "web/events")!.partitions).toMatch(/^daily 2024-01-01 to 2024-03-01 \(exclusive\) in UTC, keys "%Y-%m-%d"/);
    expect(plan.unsupported).toEqual([]);
  });

  it("says where each check runs: standalone ones as tasks after their target and inputs, all of them alone in the checks flow", () => {
    const plan = adapter.plan(manifestOf(checked), options());
    expect(plan.assets.find((a) => a.id === "orders")!.becomes.slice(1)).toEqual([
      expect.stringContaining('inline checks as the table artifact "orders-checks"'),
      'task "check orders:orders_have_customers" (standalone check, severity error) in flow "fixtures", after the task runs of "orders", "customers"; verdict in the table artifact "orders-orders-have-customers-check"; a failure fails the task and the flow run',
      '1 inline check in the task of "orders"',
      'alone: flow "fixtures-checks" (deployment "fixtures-checks/checks", parameter checks ["orders:<check>"]), a task run per check',
    ]);
    expect(plan.assets.find((a) => a.id === "events")!.becomes[2]).toBe(
      'task "check events:has_events" (standalone check, severity warn) in flow "fixtures", after the task runs of "events", "clicks", one per partition; verdict in the table artifact "events-has-events-check"',
    );
    expect(plan.assets.find((a) => a.id === "customers")!.becomes).toHaveLength(2);
  });

  it("names the Iceberg table an asset is stored in and where Prefect records each commit; file outputs say nothing of tables", () => {
    const table = { format: "iceberg", catalog: "lake", name: "analytics.daily_events", partitionColumn: "day", mode: "replace" } as const;
    const manifest: Manifest = { ...fixtureManifest, assets: fixtureManifest.assets.map((a) => (a.id === "web/events" ? { ...a, format: "iceberg", table } : a)) };
    const plan = adapter.plan(manifest, options());
    expect(plan.assets.find((a) => a.id === "web/events")!.becomes[2]).toBe(
      'output replacing its partition of the Iceberg table analytics.daily_events (catalog resource "lake"): the asset event\'s payload has table and snapshot_id; each commit in the table artifact "web-events-table"',
    );
    const stored = manifest.assets.filter((a) => a.table !== undefined).map((a) => a.id);
    expect(stored).toContain("web/events");
    expect(plan.assets.filter((a) => a.becomes.some((b) => b.includes("Iceberg table"))).map((a) => a.id)).toEqual(stored);
  });

  it("without --flow-name names the flow after the package, as the build does", () => {
    const plan = adapter.plan(fixtureManifest, adapter.resolveOptions({}, { name: "@acme/shop" }));
    expect(plan.assets[0]!.becomes[0]).toContain('in flow "shop"');
    expect(plan.sensors.find((s) => s.name === "new_event_files")!.becomes).toContain('the Variable "shop_new_event_files_cursor"');
  });
});

describe("pyLiteral", () => {
  it("writes Python literals", () => {
    expect(pyLiteral({ a: [true, false, null], b: 1.5, c: 'q"\n' })).toBe('{"a": [True, False, None], "b": 1.5, "c": "q\\"\\n"}');
  });
});
