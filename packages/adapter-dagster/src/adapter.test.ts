import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { asset, definitions, loadDefinitions, toManifest, type Manifest } from "@baton/core";
import { compareFolders, portabilityProblems } from "@baton/testing";
import { fixtureModulePath } from "@baton/testing/fixtures";
import pl from "nodejs-polars";
import { adapter } from "./adapter.js";
import { buildExample } from "./__tests__/dagster-harness.js";
import { moduleName } from "./project.js";

const tmp = () => mkdtempSync(join(tmpdir(), "baton-dagster-adapter-"));
const fixtureModule = fixtureModulePath();
const OPTS = { storageCredentials: "environment" } as const;

async function fixtureManifest(): Promise<Manifest> {
  const defs = await loadDefinitions(fixtureModule, "default");
  return toManifest(defs, { module: fixtureModule, manifestDir: tmp(), stepEntry: fixtureModule });
}

describe("problems", () => {
  it("refuses owners Dagster refuses (an email or team:<name> only), naming the asset", () => {
    const owned = (owners: string[]) => asset({ key: `a${owners.length}`, owners, compute: () => pl.DataFrame({ a: [1] }) });
    const defs = definitions({ assets: [owned(["alice", "team:"]), owned(["alice@example.com", "team:data", "x"])] });
    const manifest = toManifest(defs, { module: fixtureModule, manifestDir: tmp(), stepEntry: fixtureModule });
    expect(adapter.problems(manifest, OPTS)).toEqual([
      'asset "a2": owner "alice" is neither an email address nor a team ("team:<name>"), the only owners Dagster accepts',
      'asset "a2": owner "team:" has no team name after "team:"',
      'asset "a3": owner "x" is neither an email address nor a team ("team:<name>"), the only owners Dagster accepts',
    ]);
  });

  it("refuses partition keys with the substrings Dagster forbids, and names Dagster can't hold", () => {
    const manifest = {
      assets: [{ id: "parts", key: ["parts"], group: "my-group", owners: [], checks: [], tags: { note: "has spaces" }, partitions: { type: "static", keys: ["ok", "x\ny", "a...b"] } }],
      resources: [],
      schedules: [{ name: "nightly", partition: { type: "static", key: "t\tab" }, partitions: null }],
      sensors: [],
    } as unknown as Manifest;
    expect(adapter.problems(manifest, OPTS)).toEqual([
      'asset "parts": group "my-group": Dagster names allow only letters, digits and "_"',
      'asset "parts": partition key "x\\ny" contains a newline, which Dagster does not allow in a partition key',
      'asset "parts": partition key "a...b" contains "...", which Dagster does not allow in a partition key',
      'asset "parts": tag note=has spaces must use only letters, digits, "_", "-" and "." (63 characters at most)',
      'schedule "nightly": partition key "t\\tab" contains a tab, which Dagster does not allow in a partition key',
    ]);
  });

  it("refuses names Dagster reserves (check_valid_name): an op from a group, an output from a key, a schedule", () => {
    const a = asset({ key: "type", group: "class", compute: () => pl.DataFrame({ a: [1] }) });
    const manifest = toManifest(definitions({ assets: [a] }), { module: fixtureModule, manifestDir: tmp(), stepEntry: fixtureModule });
    const withSchedule = { ...manifest, schedules: [{ name: "import", partition: null, partitions: null }] } as unknown as Manifest;
    expect(adapter.problems(withSchedule, OPTS)).toEqual([
      'asset "type": its Dagster output name "type" is a name Dagster reserves (a Python keyword or one of its own); rename the key',
      'schedule "import": a name Dagster reserves (a Python keyword or one of its own); rename it',
    ]);
    expect(adapter.problems(manifest, OPTS)).toEqual([
      'asset "type": its Dagster output name "type" is a name Dagster reserves (a Python keyword or one of its own); rename the key',
    ]);
    const grouped = toManifest(definitions({ assets: [asset({ key: "ok", group: "class", compute: () => pl.DataFrame({ a: [1] }) })] }), { module: fixtureModule, manifestDir: tmp(), stepEntry: fixtureModule });
    expect(adapter.problems(grouped, OPTS)).toEqual(['assets "ok": their Dagster op would be named "class", a name Dagster reserves; rename the group']);
  });

  it("refuses two standalone checks whose ops would share a name (Dagster names a check's op <key>_<check>)", () => {
    const check = (name: string) => ({ name, description: null, severity: "error", standalone: true, deps: [] });
    const manifest = {
      assets: [
        { id: "a", key: ["a"], group: "g", owners: [], tags: {}, partitions: null, retry: null, deps: [], checks: [check("b_c")] },
        { id: "a_b", key: ["a_b"], group: "g", owners: [], tags: {}, partitions: null, retry: null, deps: [], checks: [check("c")] },
      ],
      resources: [],
      schedules: [],
      sensors: [],
    } as unknown as Manifest;
    expect(adapter.problems(manifest, OPTS)).toEqual(['asset "a_b": check "c": its Dagster op would be named "a_b_c", as is the op of check "a:b_c"; rename the check']);
  });

  it("passes the conformance fixture", async () => {
    expect(adapter.problems(await fixtureManifest(), OPTS)).toEqual([]);
  });
});

describe("plan", () => {
  it("covers every asset, schedule and sensor", async () => {
    const manifest = await fixtureManifest();
    const plan = adapter.plan(manifest, OPTS);
    expect(plan.assets.map((a) => a.id)).toEqual(manifest.assets.map((a) => a.id));
    expect(plan.schedules.map((s) => s.name)).toEqual(manifest.schedules.map((s) => s.name));
    expect(plan.sensors.map((s) => s.name)).toEqual(manifest.sensors.map((s) => s.name));
    // The assets' deps, and each standalone check's inputs (its spec's additional_deps).
    const checkDeps = manifest.assets.reduce((n, a) => n + a.checks.reduce((m, c) => m + (c.deps?.length ?? 0), 0), 0);
    expect(plan.edges).toHaveLength(manifest.assets.reduce((n, a) => n + a.deps.length, 0) + checkDeps);
    for (const s of plan.schedules) expect(s.becomes).toContain(`job ${s.name}_job `);
    const checked = manifest.assets.find((a) => a.checks.some((c) => c.standalone !== true))!;
    const inline = checked.checks.find((c) => c.standalone !== true)!;
    expect(plan.assets.find((a) => a.id === checked.id)!.becomes).toContain(`asset check ${checked.key.join("/")}:${inline.name}${inline.severity === "error" ? " (blocking)" : ""}`);
  });

  it("gives a standalone check an op of its own, named as @dg.asset_check names it, and its inputs as edges", () => {
    const dep = { id: "raw/customers", key: ["raw", "customers"], input: "customers", partitionMapping: null };
    const manifest = {
      assets: [
        { id: "raw/customers", key: ["raw", "customers"], group: "sales", owners: [], tags: {}, deps: [], checks: [], partitions: null, retry: null, resources: [], pool: null },
        {
          ...{ id: "web/orders", key: ["web", "orders"], group: "sales", owners: [], tags: {}, deps: [], partitions: null, retry: null, resources: [], pool: null },
          checks: [
            { name: "positive", description: null, severity: "error", standalone: false, deps: [] },
            { name: "has_customers", description: null, severity: "warn", standalone: true, deps: [dep] },
          ],
        },
      ],
      resources: [],
      schedules: [],
      sensors: [],
    } as unknown as Manifest;
    const plan = adapter.plan(manifest, OPTS);
    expect(plan.assets[1]!.becomes).toEqual(expect.arrayContaining(["asset check web/orders:positive (blocking)", expect.stringMatching(/^asset check web\/orders:has_customers in op web__orders_has_customers of its own \(standalone, not blocking; after web\/orders, raw\/customers;/)]));
    expect(plan.edges).toContainEqual({ from: "raw/customers", to: "web/orders:has_customers", via: "AssetCheckSpec additional_deps" });
    expect(adapter.problems(manifest, OPTS)).toEqual([]);
  });

  it("names the Iceberg table an asset is stored in and what Dagster records of it; a file output names none", () => {
    const base = { group: "lake", owners: [], tags: {}, deps: [], checks: [], partitions: null, retry: null, resources: ["lake"], pool: null };
    const manifest = {
      assets: [
        { ...base, id: "daily_events", key: ["daily_events"], format: "iceberg", table: { format: "iceberg", catalog: "lake", name: "analytics.daily_events", partitionColumn: "day", mode: "replace" } },
        { ...base, id: "orders", key: ["orders"], format: "iceberg", table: { format: "iceberg", catalog: "lake", name: "analytics.orders", partitionColumn: null, mode: "append" } },
        { ...base, id: "counts", key: ["counts"], format: "parquet" },
      ],
      resources: [],
      schedules: [],
      sensors: [],
    } as unknown as Manifest;
    const [events, orders, counts] = adapter.plan(manifest, OPTS).assets.map((a) => a.becomes.filter((b) => b.includes("Iceberg")));
    expect(events).toEqual([expect.stringMatching(/^Iceberg table analytics\.daily_events \(catalog resource lake, replace of its partition \(column day\)\): kind iceberg, dagster\/table_name .*iceberg\/snapshot_id/)]);
    expect(orders).toEqual([expect.stringMatching(/^Iceberg table analytics\.orders \(catalog resource lake, append\)/)]);
    expect(counts).toEqual([]);
  });
});

describe("emit", () => {
  it("names the Python module after the project, never shadowing a library", () => {
    expect([moduleName("@acme/customer-metrics"), moduleName("dagster"), moduleName("7up"), moduleName(undefined)]).toEqual(["customer_metrics", "dagster_defs", "baton_7up", "baton_project"]);
  });

  it("writes a dg project whose defs.yaml names the Baton component and the build folder without `..`", async () => {
    const manifest = await fixtureManifest();
    const files = Object.fromEntries(adapter.emit({ manifest, options: OPTS, storage: null, projectName: "@acme/sales" }).map((f) => [f.path, String(f.content)]));
    expect(Object.keys(files).sort()).toEqual(["pyproject.toml", "src/sales/__init__.py", "src/sales/definitions.py", "src/sales/defs/__init__.py", "src/sales/defs/baton/defs.yaml", "src/sales/defs/resources.py"]);
    expect(files["src/sales/defs/resources.py"]).toContain('storage = BatonStorage()\n');
    expect(files["src/sales/defs/baton/defs.yaml"]).toContain('type: baton_dagster.BatonBuildComponent\n\nattributes:\n  build: "{{ context.project_root }}/baton"\n');
    expect(files["src/sales/definitions.py"]).toContain("load_from_defs_folder(path_within_project=Path(__file__).parent)");
    const pyproject = files["pyproject.toml"]!;
    expect(pyproject).toContain('[tool.dg]\ndirectory_type = "project"\n\n[tool.dg.project]\nroot_module = "sales"');
    // The same exact pins as requirements.txt (core writes it from python() and the wheels).
    for (const pin of [...adapter.python().requirements, "baton-core==0.1.0", "baton-dagster==0.1.0"]) expect(pyproject).toContain(`"${pin}",`);
    expect(pyproject).toContain('dev = [\n    "dagster-dg-cli==1.13.27",\n]');
  });
});

describe("storage resource (defs/resources.py)", () => {
  const emitted = async (storage: string | null, storageCredentials: "environment" | "chain") => {
    const manifest = await fixtureManifest();
    const files = adapter.emit({ manifest, options: { storageCredentials }, storage, projectName: "sales" });
    return String(files.find((f) => f.path === "src/sales/defs/resources.py")!.content);
  };

  it("an s3:// build reads the S3 keys with dg.EnvVar in the run; chain and local builds set nothing; baton_input shares the storage", async () => {
    const s3 = await emitted("s3://bucket/prefix", "environment");
    expect(s3).toContain('storage = BatonStorage(\n        aws_access_key_id=dg.EnvVar("AWS_ACCESS_KEY_ID"),\n        aws_secret_access_key=dg.EnvVar("AWS_SECRET_ACCESS_KEY"),\n    )\n');
    expect(s3).toContain('"baton_storage": storage,\n            "baton_input": BatonInputManager(\n                baton_storage=storage, storage="s3://bucket/prefix"\n            ),\n');
    expect(s3).toContain("@dg.definitions\ndef resources() -> dg.Definitions:");
    expect(await emitted("s3://bucket/prefix", "chain")).toContain("storage = BatonStorage()\n");
    const local = await emitted(null, "environment");
    expect(local).toContain("storage = BatonStorage()\n");
    expect(local).toContain('"baton_input": BatonInputManager(baton_storage=storage),');
  });

  it("the next steps name the variables an s3:// build reads", async () => {
    const manifest = await fixtureManifest();
    const steps = (storage: string | null, storageCredentials: "environment" | "chain") => adapter.nextSteps("out", { manifest, options: { storageCredentials }, storage, projectName: "sales" }).join("\n");
    expect(steps("s3://b/p", "environment")).toContain("storage:   s3://b/p: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY where runs are launched and run (resource baton_storage in src/sales/defs/resources.py: dg.EnvVar)");
    expect(steps("s3://b/p", "chain")).toContain("credentials from the AWS SDK's chain on each run worker");
    expect(steps(null, "environment")).not.toContain("storage:");
  });

  it("the next steps give the command that sets each pool's limit on the Dagster instance", async () => {
    const manifest = { ...(await fixtureManifest()), pools: [{ name: "warehouse", limit: 2, description: null }] };
    const steps = adapter.nextSteps("out", { manifest, options: { storageCredentials: "environment" }, storage: null, projectName: "sales" }).join("\n");
    expect(steps).toContain("dagster instance concurrency set warehouse 2");
  });

  it("refuses an unknown storage-credentials value, naming the option", () => {
    expect(adapter.resolveOptions({}, { name: undefined })).toEqual({ storageCredentials: "environment" });
    expect(adapter.resolveOptions({ storageCredentials: "chain" }, { name: undefined })).toEqual({ storageCredentials: "chain" });
    expect(() => adapter.resolveOptions({ storageCredentials: "vault" }, { name: undefined })).toThrow(/option storage-credentials must be "environment" or "chain", not "vault"/);
  });
});

describe("baton dagster build (core's buildTarget with this adapter)", () => {
  it("is portable and deterministic: two builds of the example are byte-identical, with no absolute path or `..`", async () => {
    const [a, b] = [join(tmp(), "out"), join(tmp(), "out")];
    const first = await buildExample(a);
    await buildExample(b);
    expect(first.files).toEqual(expect.arrayContaining(["baton/manifest.json", "baton/build.json", "requirements.txt", "pyproject.toml", "src/customer_metrics/defs/baton/defs.yaml"]));
    expect(first.manifest.runtime.stepEntry).toBe("runtime/node_modules/@baton/adapter-dagster/dist/step-bin.js");
    expect(JSON.parse(readFileSync(join(a, "baton", "build.json"), "utf8"))).toEqual({ options: { storageCredentials: "environment" }, storage: null, target: "dagster" });
    expect(portabilityProblems(a)).toEqual([]);
    expect(compareFolders(a, b)).toEqual([]);
  }, 120_000);
});
