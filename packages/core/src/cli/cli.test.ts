import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadDefinitions } from "../load.js";
import { manifestToJson, toManifest } from "../manifest/build.js";
import { readManifest } from "../manifest/read.js";
import type { MaterializeResult } from "../executor/materialize.js";
import { LocalIOStore } from "../io/store.js";
import { EVENT_PREFIX } from "../step/protocol.js";
import type { StepEvent } from "../step/events.js";
import { compileDefinitions } from "./compile.js";
import { formatError, runCli, USAGE, type Io } from "./main.js";
import { findProject } from "./project.js";
import { cleanupTempDirs, expectValidManifest, expectValidManifestJson, tempDir, thrown, validatedManifests } from "../__tests__/helpers.js";

const CORE = fileURLToPath(new URL("../..", import.meta.url));
const STEP_BIN = join(CORE, "dist", "step", "bin.js");
const CLI_BIN = join(CORE, "dist", "cli", "bin.js");
const run = promisify(execFile);

/*
 * A throwaway project outside the repo: package.json names defs.ts, which imports @baton/core and
 * nodejs-polars through node_modules links (core's dist, as an installed package would be).
 */
const DEFS = `
import pl from "nodejs-polars";
import { asset, dailyPartitions, definitions, env, resource, schedule, sensor } from "@baton/core";

const mode = resource({ config: { mode: env("REPORT_MODE", { default: "ok" }) }, create: ({ mode }) => mode });

const orders = asset({
  key: ["sales", "orders"],
  group: "raw",
  description: "raw orders",
  compute: () => pl.DataFrame({ id: [1, 2, 3], customer: ["a", "b", "a"], amount: [10, 20, 30] }),
});
const customers = asset({ key: "customers", group: "raw", compute: () => pl.DataFrame({ customer: ["a", "b"], name: ["Ann", "Bob"] }) });
const metrics = asset({
  key: "customer_metrics",
  inputs: { orders, customers },
  compute: ({ orders, customers }) =>
    orders.groupBy("customer").agg(pl.col("amount").sum().alias("total")).join(customers, { on: "customer" }).sort("customer"),
});
const report = asset({
  key: "report",
  inputs: { metrics },
  resources: ["mode"],
  compute: ({ metrics }, ctx) => {
    ctx.log.info("building the report");
    if (ctx.resources.mode === "fail") throw new Error("report failed on purpose");
    return metrics.select("customer");
  },
});
const publish = asset({ key: "publish", deps: [report], output: "none", compute: () => undefined });
const daily = asset({
  key: "daily_orders",
  partitions: dailyPartitions({ start: "2024-01-01" }),
  compute: (_i, ctx) => pl.DataFrame({ day: [ctx.partitionKey] }),
});

export default definitions({
  assets: [orders, customers, metrics, report, publish, daily],
  resources: { mode },
  schedules: [schedule({ name: "nightly", cron: "0 6 * * *", selection: "daily_orders" })],
  sensors: [
    sensor({
      name: "new_orders",
      selection: "+customer_metrics",
      evaluate: ({ cursor, log }) => {
        log.info("new orders after " + (cursor ?? "the start"));
        const n = Number(cursor ?? 0) + 1;
        return { runRequests: [{ runKey: "batch-" + n }], cursor: String(n) };
      },
    }),
  ],
});
`;

const BROKEN = `
import pl from "nodejs-polars";
import { asset, definitions } from "@baton/core";
const metrics = asset({ key: "customer_metrics", inputs: { orders: "ordrs" }, compute: () => pl.DataFrame({ x: [1] }) });
export default definitions({ assets: [asset({ key: "orders", compute: () => pl.DataFrame({ x: [1] }) }), metrics] });
`;

const TOKEN = "CANARY-cli-7f3a9";
const TRUTH = `
import pl from "nodejs-polars";
import { asset, definitions, resource, secret, sensor } from "@baton/core";
const vault = resource({ config: { token: secret("CLI_TOKEN") }, create: ({ token }) => ({ token }) });
const leaky = resource({
  config: { token: secret("CLI_TOKEN") },
  create: ({ token }) => ({ token }),
  teardown: (c) => { throw new Error("teardown: could not close session for token=" + c.token); },
});
export default definitions({
  assets: [
    asset({ key: "teardown_throws", resources: ["leaky"], compute: () => pl.DataFrame({ x: [1, 2] }) }),
    asset({ key: "fine", compute: () => pl.DataFrame({ x: [1] }) }),
    asset({ key: "never_settles", deps: ["fine"], compute: () => new Promise(() => {}) }),
    asset({ key: "exits_early", compute: () => process.exit(0) }),
    asset({ key: "spins", timeoutSeconds: 0.5, compute: () => { for (;;) {} } }),
    asset({ key: "after_spins", deps: ["spins"], compute: () => pl.DataFrame({ x: [1] }) }),
    asset({ key: "fails_late", group: "failing", compute: async () => { await new Promise((r) => setTimeout(r, 150)); throw new Error("late failed"); } }),
    asset({ key: "fails_early", group: "failing", compute: () => { throw new Error("early failed"); } }),
    asset({ key: "crashes", resources: ["vault"], compute: (_i, { resources }) => new Promise(() => setTimeout(() => { throw new Error("crash token=" + resources.vault.token); }, 10)) }),
    asset({
      key: "prints",
      resources: ["vault"],
      compute: (_i, { resources }) => {
        console.log("console.log token=" + resources.vault.token);
        console.error("console.error token=" + resources.vault.token);
        return pl.DataFrame({ x: [1] });
      },
    }),
  ],
  resources: { vault, leaky },
  sensors: [sensor({ name: "secret_sensor", selection: "fine", resources: ["vault"], evaluate: ({ resources }) => ({ skip: "nothing new for " + resources.vault.token, cursor: "c-" + resources.vault.token }) })],
});
`;

const DUPLICATE = `
import pl from "nodejs-polars";
import { asset, definitions } from "@baton/core";
const one = asset({ key: "orders", compute: () => pl.DataFrame({ x: [1] }) });
const two = asset({ key: "orders", compute: () => pl.DataFrame({ x: [2] }) });
export default definitions({ assets: [one, two] });
`;

let project: string;
let storage: string;

beforeAll(() => {
  if (!existsSync(join(CORE, "dist", "index.js")) || !existsSync(STEP_BIN)) {
    throw new Error("these tests import the built @baton/core: run `npx tsc -p tsconfig.build.json` (or pnpm build) in packages/core first");
  }
  project = tempDir("baton-cli-project-");
  storage = join(project, "storage");
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "cli-fixture", private: true, type: "module", baton: { definitions: "./defs.ts" } }, null, 2));
  writeFileSync(join(project, "defs.ts"), DEFS);
  writeFileSync(join(project, "broken.ts"), BROKEN);
  writeFileSync(join(project, "truth.ts"), TRUTH);
  writeFileSync(join(project, "dup.ts"), DUPLICATE);
  mkdirSync(join(project, "node_modules", "@baton"), { recursive: true });
  symlinkSync(CORE, join(project, "node_modules", "@baton", "core"), "dir");
  symlinkSync(join(CORE, "node_modules", "nodejs-polars"), join(project, "node_modules", "nodejs-polars"), "dir");
});

afterAll(() => {
  cleanupTempDirs();
  expect(validatedManifests.length).toBeGreaterThanOrEqual(3);
});

function io(env: Record<string, string> = {}, cwd = project) {
  const out: string[] = [];
  const err: string[] = [];
  const value: Io = { cwd, env: { BATON_STORAGE: storage, ...env }, out: (t) => out.push(...t.split("\n")), err: (t) => err.push(...t.split("\n")) };
  return { io: value, out, err };
}

async function cli(args: string[], env: Record<string, string> = {}, cwd?: string) {
  const t = io(env, cwd);
  const code = await runCli(args, t.io);
  return { code, out: t.out, err: t.err };
}

describe("baton CLI", () => {
  it("validate reports the counts and exits 0", async () => {
    const r = await cli(["validate"]);
    expect(r.code).toBe(0);
    expect(r.out).toEqual(["✔ 6 assets, 1 resources, 1 schedules, 1 sensors: valid"]);
  });

  it("finds the project from a subfolder", async () => {
    const sub = join(project, "src", "deep");
    mkdirSync(sub, { recursive: true });
    expect((await cli(["validate"], {}, sub)).code).toBe(0);
    expect(findProject(sub)).toEqual({ root: project, definitions: join(project, "defs.ts"), exportName: "default" });
  });

  it("validate of broken definitions fails with the problem, the asset, the file and a suggestion", async () => {
    const e = await thrown(() => cli(["validate", "--definitions", "broken.ts"]));
    expect(e.name).toBe("BatonValidationError");
    expect(e.message).toContain(`asset "customer_metrics" (${join(project, "broken.ts")}:4): input "orders" names "ordrs"`); // file:line of the declaration (BROKEN starts with a newline)
    expect(e.message).toContain('did you mean "orders"?');
  });

  it("a missing definitions module, or one without definitions, is a CONFIG error naming the file", async () => {
    const missing = await thrown(() => cli(["validate", "--definitions", "nope.ts"]));
    expect(missing).toMatchObject({ code: "CONFIG", file: join(project, "nope.ts") });
    writeFileSync(join(project, "empty.ts"), "export const answer = 42;\n");
    const empty = await thrown(() => cli(["list", "--definitions", "empty.ts"]));
    expect(empty).toMatchObject({ code: "CONFIG", file: join(project, "empty.ts") });
    expect(empty.message).toContain('the module has no Baton definitions in its export "default"');
    expect(empty.hint).toContain("export the result of definitions({...}) as the default export");
  });

  it("a folder without a project is a CONFIG error saying how to declare one", async () => {
    const e = await thrown(() => cli(["validate"], {}, tempDir()));
    expect(e).toMatchObject({ code: "CONFIG" });
    expect(e.hint).toContain('"baton": { "definitions"');
  });

  it("list prints assets in dependency order, filtered by --select, and as JSON", async () => {
    const all = await cli(["list"]);
    expect(all.code).toBe(0);
    expect(all.out).toEqual([
      "sales/orders  group=raw  raw orders",
      "customers  group=raw",
      "customer_metrics  group=default",
      "report  group=default",
      "publish  group=default",
      "daily_orders  group=default  daily from 2024-01-01 (open-ended) in UTC",
    ]);
    // An option value before the command is not mistaken for a command.
    const some = await cli(["--select", "group:raw", "list"]);
    expect(some.out).toEqual(["sales/orders  group=raw  raw orders", "customers  group=raw"]);
    const json = await cli(["list", "--json", "--select", "publish"]);
    expect(JSON.parse(json.out.join("\n"))).toEqual([{ id: "publish", group: "default", partitions: null, deps: ["report"], description: null, checks: [] }]);
  });

  it("list shows each partition's timezone and end", async () => {
    writeFileSync(
      join(project, "windows.ts"),
      [
        'import pl from "nodejs-polars";',
        'import { asset, definitions, hourlyPartitions, staticPartitions } from "@baton/core";',
        "const frame = () => pl.DataFrame({ x: [1] });",
        'const paris = asset({ key: "paris", partitions: hourlyPartitions({ start: "2024-03-01T00:00", end: "2024-04-01T00:00", timezone: "Europe/Paris" }), compute: frame });',
        'const regions = asset({ key: "regions", partitions: staticPartitions(["eu", "us"]), compute: frame });',
        "export default definitions({ assets: [paris, regions] });",
      ].join("\n"),
    );
    const listed = await cli(["list", "--definitions", "windows.ts"]);
    expect(listed.out).toEqual([
      "paris  group=default  hourly from 2024-03-01T00:00 to 2024-04-01T00:00 (exclusive) in Europe/Paris",
      "regions  group=default  static eu|us",
    ]);
    const json = await cli(["list", "--json", "--definitions", "windows.ts", "--select", "paris"]);
    expect(JSON.parse(json.out.join("\n"))[0].partitions).toMatchObject({ type: "time", grain: "hourly", end: "2024-04-01T00:00", timezone: "Europe/Paris" });
  });

  it("check runs inline and standalone checks against stored outputs; validate and list show them (CHECKS-CONTRACT.md)", async () => {
    const checkStorage = join(project, "check-storage");
    writeFileSync(
      join(project, "checked.ts"),
      [
        'import pl from "nodejs-polars";',
        'import { asset, assetCheck, definitions } from "@baton/core";',
        'const customers = asset({ key: "customers", compute: () => pl.DataFrame({ id: [1, 2] }) });',
        'const orders = asset({ key: "orders", inputs: { customers }, compute: () => pl.DataFrame({ customer: [1, 2, 2] }), checks: [{ name: "has_rows", check: (df) => df.height > 0 }] });',
        'const known = assetCheck({ name: "customers_known", asset: orders, inputs: { customers }, description: "every customer exists", check: (o, { customers }) => ({ passed: o.getColumn("customer").toArray().every((c) => customers.getColumn("id").toArray().includes(c)), metadata: { orders: o.height } }) });',
        'const unique = assetCheck({ name: "one_per_customer", asset: orders, check: (o) => o.getColumn("customer").nUnique() === o.height });',
        "export default definitions({ assets: [], checks: [known, unique] });",
      ].join("\n"),
    );
    const env = { BATON_STORAGE: checkStorage };
    const validate = await cli(["validate", "--definitions", "checked.ts"], env);
    expect(validate.out).toEqual(["✔ 2 assets, 0 resources, 0 schedules, 0 sensors, 3 checks (2 standalone): valid"]);
    const listed = await cli(["list", "--definitions", "checked.ts", "--select", "orders"], env);
    expect(listed.out).toEqual(["orders  group=default  checks=has_rows, customers_known (standalone, reads customers), one_per_customer (standalone)"]);
    const listedJson = await cli(["list", "--json", "--definitions", "checked.ts", "--select", "orders"], env);
    expect(JSON.parse(listedJson.out.join("\n"))[0].checks).toEqual([
      { name: "has_rows", severity: "error", standalone: false, inputs: [] },
      { name: "customers_known", severity: "error", standalone: true, inputs: ["customers"] },
      { name: "one_per_customer", severity: "error", standalone: true, inputs: [] },
    ]);
    // Nothing stored yet: the output cannot be checked (exit 1, "materialize it first").
    const early = await cli(["check", "--definitions", "checked.ts", "--check", "customers_known"], env);
    expect(early.code).toBe(1);
    expect(early.out.join("\n")).toContain("materialize it first");
    const made = await cli(["materialize", "--definitions", "checked.ts"], env);
    expect(made.code).toBe(1); // one_per_customer (error) fails the run, after both assets materialized
    expect(made.out.at(-1)).toMatch(/2 succeeded, 0 failed, 0 skipped; 5 rows written; 2 check steps, failed: orders:one_per_customer$/);
    const passing = await cli(["check", "--definitions", "checked.ts", "--check", "customers_known", "--check", "has_rows"], env);
    expect(passing.code).toBe(0);
    expect(passing.out).toEqual(["  ✔ check has_rows", "  ✔ check customers_known: every customer exists", expect.stringMatching(/^✔ checks passed \(.+\) in .+: 2 passed, 0 failed, 0 warned; nothing written$/)]);
    const json = await cli(["check", "--definitions", "checked.ts", "--json"], env);
    expect(json.code).toBe(1);
    const result = JSON.parse(json.out.join("\n")) as MaterializeResult;
    expect(result).toMatchObject({ status: "failure", failure: { asset: "orders", error: { code: "CHECK_FAILED" } }, checkSteps: [] });
    expect(Object.keys(result.assets)).toEqual(["orders"]);
    expect(result.assets.orders!.materializations).toEqual([]);
    expect(result.assets.orders!.checks.map((c) => [c.check, c.passed])).toEqual([
      ["has_rows", true],
      ["customers_known", true],
      ["one_per_customer", false],
    ]);
    const typo = await thrown(() => cli(["check", "--definitions", "checked.ts", "--check", "customer_known"], env));
    expect(typo.message).toContain('no check named "customer_known" on the selected assets');
  });

  it("graph prints a tree, or Mermaid", async () => {
    const text = await cli(["graph"]);
    expect(text.code).toBe(0);
    expect(text.out).toEqual([
      "sales/orders",
      "└─ customer_metrics",
      "   └─ report",
      "      └─ publish",
      "customers",
      "└─ customer_metrics ↑",
      "daily_orders (daily)",
    ]);
    const mermaid = await cli(["graph", "--mermaid"]);
    expect(mermaid.out).toEqual([
      "graph LR",
      '  sales_orders["sales/orders"]',
      '  customers["customers"]',
      '  customer_metrics["customer_metrics"]',
      '  report["report"]',
      '  publish["publish"]',
      '  daily_orders["daily_orders"]',
      "  sales_orders --> customer_metrics",
      "  customers --> customer_metrics",
      "  customer_metrics --> report",
      "  report --> publish",
    ]);
  });

  it("manifest prints a valid, deterministic manifest pointing at the compiled definitions", async () => {
    const first = await cli(["manifest"]);
    expect(first.code).toBe(0);
    const m = expectValidManifestJson(first.out.join("\n"));
    expect(m.runtime.module).toBe(".baton/build/definitions.mjs");
    expect(existsSync(join(project, m.runtime.module))).toBe(true);
    expect(m.assets.map((a) => a.id)).toEqual(["sales/orders", "customers", "customer_metrics", "report", "publish", "daily_orders"]);
    expect(m.resources).toEqual([{ key: "mode", description: null, config: [{ field: "mode", env: "REPORT_MODE", secret: false, default: "ok", description: null }] }]);
    const second = await cli(["manifest"], { REPORT_MODE: "fail" });
    expect(second.out.join("\n")).toBe(first.out.join("\n"));
  });

  it("manifest --out writes the file, relative paths resolved from its folder", async () => {
    // Relative to the CLI's working directory (the project), not to the test process's.
    const r = await cli(["manifest", "--out", "out/manifest.json"]);
    const path = join(project, "out", "manifest.json");
    expect(r.code).toBe(0);
    expect(r.out).toEqual([`wrote ${path}`]);
    const m = expectValidManifestJson(readFileSync(path, "utf8"));
    expect(m.runtime.module).toBe("../.baton/build/definitions.mjs");
    expect(readManifest(path)).toEqual(m);
  });

  it("materialize prints one line per asset start and finish and a summary, and exits 0", async () => {
    const r = await cli(["materialize", "--select", "+report"]);
    expect(r.code).toBe(0);
    const lines = r.out.map((l) => l.replace(/\d+(\.\d+)?(ms|s)\b/g, "<t>"));
    // sales/orders and customers are independent: they run concurrently, in either order.
    expect(lines.filter((l) => l.startsWith("▶")).sort()).toEqual(["▶ customer_metrics", "▶ customers", "▶ report", "▶ sales/orders"]);
    expect(lines.filter((l) => l.startsWith("✔ ") && !l.startsWith("✔ run")).sort()).toEqual([
      "✔ customer_metrics  <t>  2 rows",
      "✔ customers  <t>  2 rows",
      "✔ report  <t>  2 rows",
      "✔ sales/orders  <t>  3 rows",
    ]);
    expect(lines).toContain("  building the report");
    const at = (prefix: string) => r.out.findIndex((l) => l === prefix || l.startsWith(`${prefix}  `));
    // Every asset's start comes before its finish, and after its upstreams' finish.
    for (const id of ["sales/orders", "customers", "customer_metrics", "report"]) expect(at(`▶ ${id}`)).toBeLessThan(at(`✔ ${id}`));
    expect(at("▶ customer_metrics")).toBeGreaterThan(Math.max(at("✔ sales/orders"), at("✔ customers")));
    expect(at("▶ report")).toBeGreaterThan(at("✔ customer_metrics"));
    expect(lines.at(-1)).toMatch(/^✔ run succeeded \([0-9a-f-]{36}\) in <t>: 4 succeeded, 0 failed, 0 skipped; 9 rows written$/);
    expect(readdirSync(join(storage, "customer_metrics", "__unpartitioned__"))).toContain("record.json");
  });

  it("materialize --json prints the result", async () => {
    const r = await cli(["materialize", "--select", "customers", "--json"]);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.out.join("\n")) as MaterializeResult;
    expect(result.status).toBe("success");
    expect(Object.keys(result.assets)).toEqual(["customers"]);
    expect(result.assets.customers!.materializations[0]!.metadata.rowCount).toBe(2);
  });

  it("materialize exits 1 on a failure, reporting it and the skipped downstream", async () => {
    const r = await cli(["materialize", "--select", "+publish"], { REPORT_MODE: "fail" });
    expect(r.code).toBe(1);
    expect(r.out).toContain("✘ report  report failed on purpose");
    expect(r.out).toContain('– publish skipped: upstream "report" did not succeed');
    expect(r.out.at(-1)).toMatch(/^✘ run failed \(.+\) in .+: 3 succeeded, 1 failed, 1 skipped; 7 rows written$/);
    const json = await cli(["materialize", "--select", "report", "--json"], { REPORT_MODE: "fail" });
    expect(json.code).toBe(1);
    const result = JSON.parse(json.out.join("\n")) as MaterializeResult;
    expect(result.assets.report!.error!.message).toBe("report failed on purpose");
  });

  it("materialize runs a partition, a range, and --show prints the output", async () => {
    const one = await cli(["materialize", "--select", "daily_orders", "--partition", "2024-01-02", "--show", "daily_orders"]);
    expect(one.code).toBe(0);
    expect(one.out.some((l) => /^✔ daily_orders \[2024-01-02\] {2}\S+ {2}1 rows$/.test(l))).toBe(true);
    expect(one.out).toContain("daily_orders [2024-01-02]:");
    expect(one.out).toContain("│ 2024-01-02 │");
    const range = await cli(["materialize", "--select", "daily_orders", "--partition-range", "2024-01-03...2024-01-05", "--json"]);
    const result = JSON.parse(range.out.join("\n")) as MaterializeResult;
    expect(result.assets.daily_orders!.materializations.map((m) => m.partitionKey)).toEqual(["2024-01-03", "2024-01-04", "2024-01-05"]);
  });

  it("materialize with a bad partition fails before anything runs", async () => {
    const e = await thrown(() => cli(["materialize", "--select", "daily_orders", "--partition", "yesterday"]));
    expect(e).toMatchObject({ code: "UNKNOWN_PARTITION", asset: "daily_orders" });
    const bad = await thrown(() => cli(["materialize", "--select", "daily_orders", "--partition-range", "2024-01-01"]));
    expect(bad).toMatchObject({ code: "UNKNOWN_PARTITION" });
    expect(bad.hint).toContain("FIRST...LAST");
  });

  it("schedule tick --at prints what the schedule would run", async () => {
    const r = await cli(["schedule", "tick", "nightly", "--at", "2024-01-05T07:00:00Z"]);
    expect(r.code).toBe(0);
    expect(r.out).toEqual(["tick 2024-01-05T06:00:00.000Z", "run daily_orders partition=2024-01-04 runKey=2024-01-04"]);
    const json = await cli(["schedule", "tick", "nightly", "--at", "2024-01-05T07:00:00Z", "--json"]);
    expect(JSON.parse(json.out.join("\n"))).toEqual({
      runRequests: [{ assets: ["daily_orders"], partitionKey: "2024-01-04", runKey: "2024-01-04", tags: {} }],
      cursor: null,
      skipReason: null,
      tickTime: "2024-01-05T06:00:00.000Z",
    });
  });

  it("sensor tick --cursor runs the sensor once and prints its requests and new cursor", async () => {
    const r = await cli(["sensor", "tick", "new_orders", "--cursor", "4"]);
    expect(r.code).toBe(0);
    expect(r.out[0]).toBe("run sales/orders, customers, customer_metrics runKey=batch-5");
    expect(r.out[1]).toMatch(/^cursor 5 {2}\(\d+ms\)$/);
    // The sensor's log, on stderr (issue 12).
    expect(r.err).toContain("[info] new orders after 4");
    const json = await cli(["sensor", "tick", "new_orders", "--json"]);
    expect(JSON.parse(json.out.join("\n"))).toMatchObject({ cursor: "1", runRequests: [{ runKey: "batch-1" }] });
  });

  it("usage: no command exits 2, --help exits 0, an unknown command exits 2, a bad tick is a CONFIG error", async () => {
    const none = await cli([]);
    expect(none.code).toBe(2);
    expect(none.out.join("\n")).toBe(USAGE);
    expect((await cli(["--help"])).code).toBe(0);
    const unknown = await cli(["Materialise"]);
    expect(unknown.code).toBe(2);
    expect(unknown.err[0]).toBe('unknown command "Materialise"');
    expect(await thrown(() => cli(["schedule", "run", "nightly"]))).toMatchObject({ code: "CONFIG" });
    const adapter = await thrown(() => cli(["nosuchtarget", "build"]));
    expect(adapter).toMatchObject({ code: "CONFIG" });
    expect(adapter.message).toContain("@baton/adapter-nosuchtarget is not installed");
  });
});

describe("baton CLI tells the truth (issue 10)", () => {
  async function baton(args: string[], env: Record<string, string> = {}) {
    try {
      const r = await run(process.execPath, [CLI_BIN, ...args], { cwd: project, env: { ...process.env, BATON_STORAGE: storage, CLI_TOKEN: TOKEN, ...env }, timeout: 120_000 });
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (e) {
      const x = e as { code: number; stdout: string; stderr: string };
      return { code: x.code, stdout: x.stdout, stderr: x.stderr };
    }
  }

  it("materialize exits non-zero naming the unfinished asset when a compute never settles", async () => {
    const r = await baton(["materialize", "--definitions", "truth.ts", "--select", "+never_settles"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("the run ended before it finished: no result for never_settles");
    expect(r.stderr).not.toContain("fine,");
  });

  it("materialize stops a timed compute that blocks the event loop: the watchdog's line on stderr, SIGKILL (137), nothing stored", async () => {
    const spinStorage = join(project, "spin-storage");
    const r = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolveRun, reject) => {
      execFile(process.execPath, [CLI_BIN, "materialize", "--definitions", "truth.ts", "--select", "spins after_spins", "--json"], { cwd: project, env: { ...process.env, BATON_STORAGE: spinStorage }, timeout: 120_000 }, (e, stdout, stderr) => {
        if (e && (e as { killed?: boolean }).killed) reject(new Error(`baton materialize did not end: ${stderr}`));
        resolveRun({ code: e ? ((e as { code?: number | null }).code ?? null) : 0, signal: e ? ((e as { signal?: NodeJS.Signals | null }).signal ?? null) : null, stdout, stderr });
      });
    });
    expect(r.signal).toBe("SIGKILL");
    expect(r.stderr).toContain('baton: asset "spins" timed out after 0.5 s (timeoutSeconds: 0.5); its compute blocked the event loop, so the process was stopped');
    // The folder prepared before the compute ran holds no file: no output, no record.
    expect(await new LocalIOStore(spinStorage).listFiles()).toEqual([]);
  });

  it("materialize exits non-zero when compute calls process.exit(0)", async () => {
    const r = await baton(["materialize", "--definitions", "truth.ts", "--select", "exits_early"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("no result for exits_early");
    expect(r.stderr).toContain("process.exit()");
  });

  it("materialize reports an uncaught exception in user code redacted, naming the asset", async () => {
    const r = await baton(["materialize", "--definitions", "truth.ts", "--select", "crashes"]);
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).not.toContain(TOKEN);
    expect(r.stderr).toContain("✘ the run crashed with no result for crashes: Error: crash token=***");
  });

  it("materialize redacts secrets from what the asset prints", async () => {
    const r = await baton(["materialize", "--definitions", "truth.ts", "--select", "prints"]);
    expect(r.code).toBe(0);
    expect(r.stdout + r.stderr).not.toContain(TOKEN);
    expect(r.stdout).toContain("console.log token=***");
    expect(r.stderr).toContain("console.error token=***");
  });

  it("materialize keeps a committed output when teardown then fails, says why the run failed, and redacts it", async () => {
    const r = await cli(["materialize", "--definitions", "truth.ts", "--select", "teardown_throws"], { CLI_TOKEN: TOKEN });
    expect(r.code).toBe(1);
    expect(r.out.join("\n")).not.toContain(TOKEN);
    expect(r.out.some((l) => /^✔ teardown_throws {2}\S+ {2}2 rows$/.test(l))).toBe(true);
    expect(r.out).toContain('✘ step failed: resource "leaky" teardown failed: teardown: could not close session for token=***');
    expect(r.out.at(-1)).toMatch(/^✘ run failed .*0 succeeded, 1 failed, 0 skipped; 2 rows written$/);
  });

  it("a mistake in the definitions prints the message without an internal stack (the user's core is another instance); --json keeps it", async () => {
    const r = await baton(["validate", "--definitions", "dup.ts"]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^✘ 1 problem in the Baton definitions:\n- asset "orders" \(.*dup\.ts:\d+\): the key is declared twice/);
    expect(r.stderr.split("\n").filter((l) => /^\s+at /.test(l))).toEqual([]);
    // In process too: the error comes from the core the definitions loaded, not this one.
    const e = await thrown(() => cli(["validate", "--definitions", "dup.ts"]));
    expect(formatError(e)).toBe(`✘ ${e.message}`);
    expect(formatError(e, { stack: true })).toMatch(/\n\s+at /);
    const json = await baton(["validate", "--definitions", "dup.ts", "--json"]);
    expect(json.code).toBe(3);
    expect(json.stderr).toMatch(/\n\s+at /);
  });

  it("--partition for a selection with no partitioned asset is a clear error: exit 3, nothing runs", async () => {
    const r = await baton(["materialize", "--select", "+customer_metrics", "--partition", "2024-01-02"]);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe("");
    expect(r.stderr.trim()).toBe('✘ "sales/orders", "customers", "customer_metrics" are not partitioned; drop --partition\n  fix: run them without a partition key or range');
  });

  it("materialize of everything skips the partitioned assets with the reason and succeeds", async () => {
    const r = await cli(["materialize"]);
    expect(r.code).toBe(0);
    expect(r.out).toContainEqual(expect.stringMatching(/^– daily_orders skipped: partitioned by .+; pass a partition key or range to run it$/));
    expect(r.out.at(-1)).toMatch(/^✔ run succeeded .*: 5 succeeded, 0 failed, 1 skipped;/);
  });

  it("several failures: the run reports the first in run order, not the first to finish", async () => {
    const r = await cli(["materialize", "--definitions", "truth.ts", "--select", "group:failing"]);
    expect(r.code).toBe(1);
    const failures = r.out.filter((l) => /^✘ fails_/.test(l));
    expect(failures).toEqual(["✘ fails_early  early failed", "✘ fails_late  late failed"]);
    expect(r.out.at(-2)).toBe("✘ first failure in run order: fails_late  late failed");
    const json = await cli(["materialize", "--definitions", "truth.ts", "--select", "group:failing", "--json"]);
    expect((JSON.parse(json.out.join("\n")) as MaterializeResult).failure).toMatchObject({ asset: "fails_late", error: { message: "late failed" } });
  });

  it("sensor tick redacts the skip reason and the cursor", async () => {
    const r = await cli(["sensor", "tick", "secret_sensor", "--definitions", "truth.ts"], { CLI_TOKEN: TOKEN });
    expect(r.code).toBe(0);
    expect(r.out.join("\n")).not.toContain(TOKEN);
    expect(r.out).toContain("skipped: nothing new for ***");
  });
});

describe("baton-step (compiled bin in a child process)", () => {
  let manifestPath: string;

  beforeAll(async () => {
    const proj = findProject(project);
    const module = await compileDefinitions(proj);
    const defs = await loadDefinitions(proj.definitions);
    const dir = join(project, "orchestrator");
    mkdirSync(dir, { recursive: true });
    manifestPath = join(dir, "manifest.json");
    writeFileSync(manifestPath, manifestToJson(expectValidManifest(toManifest(defs, { module, manifestDir: dir }))));
  });

  async function step(args: string[], env: Record<string, string> = {}) {
    const stepStorage = join(project, "step-storage");
    try {
      const r = await run(process.execPath, [STEP_BIN, ...args], { cwd: project, env: { ...process.env, BATON_STORAGE: stepStorage, ...env } });
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (e) {
      const x = e as { code: number; stdout: string; stderr: string };
      return { code: x.code, stdout: x.stdout, stderr: x.stderr };
    }
  }
  const events = (stdout: string) =>
    stdout
      .split("\n")
      .filter((l) => l.startsWith(EVENT_PREFIX))
      .map((l) => JSON.parse(l.slice(EVENT_PREFIX.length)) as StepEvent);

  it("runs assets and emits @@baton:event lines; exit 0", async () => {
    const r = await step(["run", "--manifest", manifestPath, "--asset", "customer_metrics", "--asset", "sales/orders", "--asset", "customers", "--run-id", "r-1", "--retry", "1"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const ev = events(r.stdout);
    expect(ev.map((e) => e.type)).toEqual(["step_start", "asset_start", "materialization", "asset_start", "materialization", "asset_start", "materialization", "step_end"]);
    expect(ev[0]).toEqual({ type: "step_start", runId: "r-1", assets: ["sales/orders", "customers", "customer_metrics"], partitionKeys: [], retryNumber: 1 });
    const mat = ev.filter((e): e is Extract<StepEvent, { type: "materialization" }> => e.type === "materialization");
    expect(mat.map((m) => [m.asset, m.metadata.rowCount])).toEqual([
      ["sales/orders", 3],
      ["customers", 2],
      ["customer_metrics", 2],
    ]);
    expect(existsSync(mat[2]!.metadata.path!)).toBe(true);
    expect(mat[2]!.metadata.path!.startsWith(resolve(project, "step-storage"))).toBe(true);
    expect(ev.at(-1)).toMatchObject({ type: "step_end", status: "success" });
  });

  it("runs a partition", async () => {
    const r = await step(["run", "--manifest", manifestPath, "--asset", "daily_orders", "--partition", "2024-01-02", "--run-id", "r-2"]);
    expect(r.code).toBe(0);
    expect(events(r.stdout).find((e) => e.type === "materialization")).toMatchObject({ asset: "daily_orders", partitionKey: "2024-01-02" });
  });

  it("exits 1 when an asset fails, with the failure event", async () => {
    const r = await step(["run", "--manifest", manifestPath, "--asset", "report", "--run-id", "r-3"], { REPORT_MODE: "fail" });
    expect(r.code).toBe(1);
    const ev = events(r.stdout);
    expect(ev.find((e) => e.type === "log")).toMatchObject({ level: "info", message: "building the report", asset: "report" });
    const f = ev.find((e) => e.type === "asset_failure") as Extract<StepEvent, { type: "asset_failure" }>;
    expect(f.asset).toBe("report");
    expect(f.error).toMatchObject({ name: "Error", message: "report failed on purpose" });
    expect(f.error.stack).toContain("report failed on purpose");
    expect(ev.at(-1)).toMatchObject({ type: "step_end", status: "failure" });
  });

  it("exits 3 (deterministic) when the step cannot start (unknown asset, broken manifest), still emitting a failure event", async () => {
    const unknown = await step(["run", "--manifest", manifestPath, "--asset", "no_such_asset", "--run-id", "r-4"]);
    expect(unknown.code).toBe(3);
    const [f] = events(unknown.stdout);
    expect(f).toMatchObject({ type: "asset_failure", asset: "", error: { code: "UNKNOWN_SELECTION" } });
    expect(unknown.stderr).toContain('baton-step: selection names "no_such_asset"');

    const broken = join(project, "orchestrator", "broken.json");
    writeFileSync(broken, JSON.stringify({ manifestVersion: 99 }));
    const bad = await step(["run", "--manifest", broken, "--asset", "report"]);
    expect(bad.code).toBe(3);
    expect(events(bad.stdout)[0]).toMatchObject({ type: "asset_failure", error: { code: "MANIFEST" } });
    expect(bad.stderr).toContain(broken);
    expect(bad.stderr).toContain("manifest version 99");
  });

  it("evaluates a sensor and a schedule as tick events", async () => {
    const s = await step(["sensor", "--manifest", manifestPath, "--name", "new_orders", "--cursor", "9"]);
    expect(s.code).toBe(0);
    expect(events(s.stdout)).toEqual([
      { type: "log", level: "info", message: "new orders after 9", asset: null },
      { type: "tick", result: { runRequests: [{ assets: ["sales/orders", "customers", "customer_metrics"], partitionKey: null, runKey: "batch-10", tags: {} }], cursor: "10", skipReason: null, tickTime: null } },
    ]);
    const t = await step(["schedule", "--manifest", manifestPath, "--name", "nightly", "--at", "2024-02-01T06:30:00Z"]);
    expect(t.code).toBe(0);
    expect(events(t.stdout)[0]).toMatchObject({ type: "tick", result: { runRequests: [{ partitionKey: "2024-01-31" }], tickTime: "2024-02-01T06:00:00.000Z" } });
  });
});

/** An installed adapter package exporting the contract's `adapter` (plain JS, as a published one would be). */
const FAKE_ADAPTER = `
export const adapter = {
  name: "fake",
  title: "Fake Orchestrator",
  supports: { timePartitions: true, staticPartitions: true, partitionRanges: true, schedules: true, sensors: "polled", checks: true, retries: true, resources: true },
  options: { greeting: { type: "string", description: "the emitted greeting" }, loud: { type: "boolean", description: "shout it" } },
  runtime: { stepPackage: "@baton/core", stepBin: "dist/step/bin.js" },
  python: () => ({ wheels: [], requirements: ["fake-orchestrator==1.0.0"] }),
  resolveOptions: (raw) => ({ greeting: raw.greeting ?? "hello", loud: raw.loud === true }),
  problems: (m) => m.assets.filter((a) => a.id === "forbidden").map((a) => "asset " + a.id + " is forbidden"),
  emit: ({ manifest, options }) => [{ path: "fake.py", content: "# " + (options.loud ? options.greeting.toUpperCase() : options.greeting) + "\\nASSETS = " + JSON.stringify(manifest.assets.map((a) => a.id)) + "\\n" }],
  plan: (m) => ({ target: "fake", assets: m.assets.map((a) => ({ id: a.id, becomes: ["job " + a.id], partitions: null })), edges: [], schedules: [], sensors: [], unsupported: [] }),
  nextSteps: (out) => ["fake serve " + out],
  commands: {
    hello: { description: "print what it got", run: async (c) => { c.out("hello " + c.outDir + " " + JSON.stringify(c.args) + " " + c.options.greeting); return 7; } },
  },
};
`;

describe("baton <target> with an adapter exporting the contract", () => {
  beforeAll(() => {
    const pkg = join(project, "node_modules", "@baton", "adapter-fake");
    mkdirSync(pkg, { recursive: true });
    writeFileSync(join(pkg, "package.json"), JSON.stringify({ name: "@baton/adapter-fake", version: "0.0.1", type: "module", exports: { "./cli": "./cli.js" } }));
    writeFileSync(join(pkg, "cli.js"), FAKE_ADAPTER);
    const legacy = join(project, "node_modules", "@baton", "adapter-old");
    mkdirSync(legacy, { recursive: true });
    writeFileSync(join(legacy, "package.json"), JSON.stringify({ name: "@baton/adapter-old", version: "0.0.1", type: "module", exports: { "./cli": { import: "./cli.js" } } }));
    writeFileSync(join(legacy, "cli.js"), "export async function run() { return 0; }\n");
  });

  it("an adapter from before the contract (run() only) is refused with an upgrade hint", async () => {
    const e = await thrown(() => cli(["old", "build", "--out", "builds/old"]));
    expect(e).toMatchObject({ code: "CONFIG" });
    expect(e.message).toContain("@baton/adapter-old/cli exports no `adapter` (it exports run(), the CLI of adapters before the build contract)");
    expect(e.message).toContain("upgrade @baton/adapter-old");
  });

  it("build --out DIR (relative to the CLI's folder) writes the build and prints the next steps", async () => {
    const r = await cli(["fake", "build", "--out", "builds/fake", "--greeting", "hey", "--loud"]);
    expect(r.err).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.out[0]).toMatch(/^✔ built for Fake Orchestrator into builds\/fake in \d+\.\d s: 6 assets, 1 schedule, 1 sensor; runtime of \d+ packages$/);
    expect(r.out.slice(1)).toEqual(["  fake serve builds/fake"]);
    const out = join(project, "builds", "fake");
    expect(readFileSync(join(out, "fake.py"), "utf8")).toContain("# HEY\n");
    expect(JSON.parse(readFileSync(join(out, "baton", "build.json"), "utf8"))).toEqual({ options: { greeting: "hey", loud: true }, storage: null, target: "fake" });
    expect(expectValidManifestJson(readFileSync(join(out, "baton", "manifest.json"), "utf8")).runtime.module).toMatch(/^runtime\/definitions-[0-9a-f]{16}\.mjs$/);
  });

  it("plan prints the translation as text or JSON and writes nothing", async () => {
    const text = await cli(["fake", "plan"]);
    expect(text.code).toBe(0);
    expect(text.out).toContain("Plan for Fake Orchestrator (nothing written)");
    expect(text.out).toContain("Assets (6)");
    const json = await cli(["fake", "plan", "--json"]);
    expect(JSON.parse(json.out.join("\n"))).toMatchObject({ target: "fake", title: "Fake Orchestrator", problems: [], assets: expect.arrayContaining([{ id: "report", becomes: ["job report"], partitions: null }]) });
  });

  it("an adapter command builds into --out first, then runs with the arguments core did not take", async () => {
    const r = await cli(["fake", "hello", "--out", "builds/hello", "--greeting", "yo", "extra", "--verbose"]);
    expect(r.code).toBe(7);
    expect(r.out.at(-1)).toBe(`hello ${join(project, "builds", "hello")} ["extra","--verbose"] yo`);
    expect(existsSync(join(project, "builds", "hello", "baton", "build.json"))).toBe(true);
  });

  it("usage errors exit 2 with the target's usage; a build error exits 1 with its fix", async () => {
    const noOut = await cli(["fake", "build"]);
    expect(noOut.code).toBe(2);
    expect(noOut.err[0]).toBe("✘ baton fake build needs --out DIR (the folder to build into)");
    expect(noOut.err.join("\n")).toContain("--greeting VALUE");
    const unknown = await cli(["fake", "build", "--out", "x", "--colour", "red"]);
    expect(unknown.code).toBe(2);
    expect(unknown.err[0]).toContain("--colour");
    const noCommand = await cli(["fake", "deploy", "--out", "x"]);
    expect(noCommand.code).toBe(2);
    expect(noCommand.err[0]).toBe('✘ baton fake has no command "deploy" (it has: build, plan, hello)');
    const usage = await cli(["fake"]);
    expect(usage.code).toBe(2);
    expect(usage.out[0]).toBe("baton fake — build for Fake Orchestrator with @baton/adapter-fake");
    expect((await cli(["fake", "--help"])).code).toBe(0);
    const storage = await cli(["fake", "build", "--out", "builds/s", "--storage", "relative/storage"]);
    expect(storage.code).toBe(1);
    expect(storage.err.join("\n")).toContain('--storage "relative/storage" is a relative path');
    expect(storage.err.join("\n")).toContain("fix: give an absolute path");
    expect(existsSync(join(project, "builds", "s"))).toBe(false);
  });
});
