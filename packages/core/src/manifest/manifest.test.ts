import pl from "nodejs-polars";
import { writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { asset, input, type MetadataValue } from "../asset.js";
import { definitions } from "../definitions.js";
import { dailyPartitions, hourlyPartitions, staticPartitions, weeklyPartitions } from "../partitions/index.js";
import { env, resource, secret } from "../resource.js";
import { schedule } from "../schedule.js";
import { sensor } from "../sensor.js";
import { manifestToJson, NO_MODULE_HASH, stepEntryPath, toManifest } from "./build.js";
import { manifestProblems, readManifest } from "./read.js";
import { moduleHashOf } from "./hash.js";
import { ACCEPTED_MANIFEST_VERSIONS, MANIFEST_VERSION, type Manifest } from "./types.js";
import { cleanupTempDirs, expectValidManifest, tempDir, thrownSync, validatedManifests } from "../__tests__/helpers.js";

afterEach(() => {
  cleanupTempDirs();
  vi.unstubAllEnvs();
});
afterAll(() => {
  // Every test below that builds a manifest went through expectValidManifest.
  expect(validatedManifests.length).toBeGreaterThanOrEqual(8);
});

const df = () => pl.DataFrame({ x: [1] });
const SECRET_VALUE = "pw-do-not-leak-9f3b";
const URL_VALUE = "postgres://real-host.internal:5432/prod";

/** Rich definitions covering every manifest field; `reordered` declares the same maps (metadata, tags, config, resources) in another key order. */
function fixture(reordered = false) {
  const metadata: Record<string, MetadataValue> = reordered
    ? { z: { b: 2, a: [1, "x", null] }, a: true, m: "text" }
    : { a: true, m: "text", z: { a: [1, "x", null], b: 2 } };
  const tags = reordered ? { tier: "gold", domain: "sales" } : { domain: "sales", tier: "gold" };
  const warehouse = resource({
    description: "the warehouse",
    config: reordered
      ? { password: secret("WAREHOUSE_PASSWORD"), url: env("WAREHOUSE_URL", { description: "connection url" }), schema: env("WAREHOUSE_SCHEMA", { default: "public" }) }
      : { url: env("WAREHOUSE_URL", { description: "connection url" }), schema: env("WAREHOUSE_SCHEMA", { default: "public" }), password: secret("WAREHOUSE_PASSWORD") },
    create: (c) => c,
  });
  const bucket = resource({ config: { root: env("BUCKET_ROOT") }, create: (c) => c });
  const orders = asset({ key: ["sales", "orders"], compute: df, metadata, tags, owners: ["data@x.com"], codeVersion: "2", description: "raw orders", group: "sales" });
  const hourly = asset({ key: "events", compute: df, partitions: hourlyPartitions({ start: "2024-01-01T00:00", timezone: "Europe/Paris" }) });
  const regions = asset({ key: "regions", compute: df, partitions: staticPartitions(["eu", "us"]) });
  const daily = asset({
    key: "daily_events",
    inputs: { events: hourly, orders },
    compute: df,
    partitions: dailyPartitions({ start: "2024-01-01", end: "2025-01-01", timezone: "Europe/Paris" }),
    resources: ["warehouse", "bucket"],
    retry: { maxRetries: 2, delaySeconds: 5, backoff: "exponential" },
    checks: [
      { name: "rows", check: () => true },
      { name: "soft", description: "soft check", severity: "warn", check: () => true },
    ],
    io: { format: "ipc" },
  });
  const weekly = asset({ key: "weekly", inputs: { daily }, compute: df, partitions: weeklyPartitions({ start: "2024-01-07", weekStartsOn: 0 }) });
  const all = asset({ key: "all_regions", inputs: { regions: input(regions, { as: "arrow" }) }, compute: df, retry: { maxRetries: 1 } });
  const notify = asset({ key: "notify", deps: [all], output: "none", compute: () => undefined, resources: ["bucket"] });
  return definitions({
    assets: [orders, hourly, regions, daily, weekly, all, notify],
    resources: reordered ? { warehouse, bucket } : { bucket, warehouse },
    schedules: [
      schedule({ name: "daily_run", cron: "0 6 * * *", timezone: "Europe/Paris", selection: "daily_events", description: "every morning" }),
      schedule({ name: "regions_eu", cron: "@hourly", selection: "regions", partition: { type: "static", key: "eu" } }),
      schedule({ name: "plain", cron: "*/15 * * * *", selection: ["sales/orders", "all_regions+"] }),
    ],
    sensors: [sensor({ name: "new_orders", selection: "+all_regions", resources: ["bucket"], minimumIntervalSeconds: 60, evaluate: () => ({ skip: "no" }) })],
  });
}

const HASH = `sha256:${"ab".repeat(32)}`;

function build(defs = fixture(), dir = "/srv/project/.baton") {
  return expectValidManifest(toManifest(defs, { module: "/srv/project/.baton/build/definitions.mjs", moduleHash: HASH, manifestDir: dir, stepEntry: "/srv/project/node_modules/@baton/core/dist/step/bin.js" }));
}

describe("toManifest", () => {
  it("describes every asset, resource, schedule and sensor", () => {
    const m = build();
    expect(m.manifestVersion).toBe(MANIFEST_VERSION);
    expect(m.generator).toEqual({ name: "@baton/core", version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
    expect(m.runtime).toEqual({ module: "build/definitions.mjs", moduleHash: HASH, export: "default", stepEntry: "../node_modules/@baton/core/dist/step/bin.js", node: ">=20.19" });
    expect(m.assets.map((a) => a.id)).toEqual(["sales/orders", "events", "regions", "daily_events", "weekly", "all_regions", "notify"]);
    const byId = Object.fromEntries(m.assets.map((a) => [a.id, a]));
    expect(byId["sales/orders"]).toEqual({
      id: "sales/orders",
      key: ["sales", "orders"],
      deps: [],
      partitions: null,
      group: "sales",
      description: "raw orders",
      owners: ["data@x.com"],
      tags: { domain: "sales", tier: "gold" },
      codeVersion: "2",
      codeVersionSource: "declared",
      metadata: { a: true, m: "text", z: { a: [1, "x", null], b: 2 } },
      checks: [],
      retry: null,
      resources: [],
      format: "parquet",
      output: "table",
      timeoutSeconds: null,
      pool: null,
      kinds: [],
      batch: null,
      source: null,
    });
    // No codeVersion declared: the default (a hash of the compute's text), marked as such.
    expect(byId.events).toMatchObject({ codeVersion: expect.stringMatching(/^[0-9a-f]{12}$/), codeVersionSource: "compute" });
    expect(byId.daily_events).toMatchObject({
      deps: [
        { id: "events", key: ["events"], input: "events", partitionMapping: { type: "timeWindow" } },
        { id: "sales/orders", key: ["sales", "orders"], input: "orders", partitionMapping: null },
      ],
      partitions: { type: "time", grain: "daily", start: "2024-01-01", end: "2025-01-01", timezone: "Europe/Paris", format: "%Y-%m-%d" },
      checks: [
        { name: "rows", description: null, severity: "error" },
        { name: "soft", description: "soft check", severity: "warn" },
      ],
      retry: { maxRetries: 2, delaySeconds: 5, backoff: "exponential" },
      resources: ["bucket", "warehouse"],
      format: "ipc",
    });
    expect(byId.weekly!.partitions).toMatchObject({ grain: "weekly", weekStartsOn: 0 });
    expect(byId.weekly!.deps[0]!.partitionMapping).toEqual({ type: "timeWindow" });
    expect(byId.all_regions!.deps).toEqual([{ id: "regions", key: ["regions"], input: "regions", partitionMapping: { type: "allPartitions" } }]);
    expect(byId.all_regions!.retry).toEqual({ maxRetries: 1, delaySeconds: 0, backoff: "constant" });
    expect(byId.notify).toMatchObject({ deps: [{ id: "all_regions", key: ["all_regions"], input: null, partitionMapping: null }], output: "none" });

    expect(m.resources).toEqual([
      { key: "bucket", description: null, config: [{ field: "root", env: "BUCKET_ROOT", secret: false, default: null, description: null }] },
      {
        key: "warehouse",
        description: "the warehouse",
        config: [
          { field: "password", env: "WAREHOUSE_PASSWORD", secret: true, default: null, description: null },
          { field: "schema", env: "WAREHOUSE_SCHEMA", secret: false, default: "public", description: null },
          { field: "url", env: "WAREHOUSE_URL", secret: false, default: null, description: "connection url" },
        ],
      },
    ]);
    expect(m.schedules).toEqual([
      {
        name: "daily_run",
        cron: "0 6 * * *",
        timezone: "Europe/Paris",
        selection: "daily_events",
        assets: ["daily_events"],
        partition: { type: "lastComplete" },
        partitions: byId.daily_events!.partitions,
        description: "every morning",
      },
      { name: "regions_eu", cron: "@hourly", timezone: "UTC", selection: "regions", assets: ["regions"], partition: { type: "static", key: "eu" }, partitions: { type: "static", keys: ["eu", "us"] }, description: null },
      { name: "plain", cron: "*/15 * * * *", timezone: "UTC", selection: "sales/orders all_regions+", assets: ["sales/orders", "all_regions", "notify"], partition: null, partitions: null, description: null },
    ]);
    expect(m.sensors).toEqual([{ name: "new_orders", selection: "+all_regions", assets: ["regions", "all_regions"], minimumIntervalSeconds: 60, resources: ["bucket"], description: null }]);
  });

  it("is deterministic: byte-identical JSON twice, and for maps declared in another key order", () => {
    const first = manifestToJson(build());
    expect(manifestToJson(build())).toBe(first);
    expect(manifestToJson(build(fixture()))).toBe(first);
    expect(manifestToJson(build(fixture(true)))).toBe(first);
    expect(first.endsWith("}\n")).toBe(true);
    expect(JSON.parse(first)).toEqual(build());
  });

  it("holds environment variable names only: no values, no secrets", () => {
    vi.stubEnv("WAREHOUSE_URL", URL_VALUE);
    vi.stubEnv("WAREHOUSE_PASSWORD", SECRET_VALUE);
    vi.stubEnv("BUCKET_ROOT", "/mnt/secret-bucket-root");
    const json = manifestToJson(build());
    expect(json).not.toContain(SECRET_VALUE);
    expect(json).not.toContain(URL_VALUE);
    expect(json).not.toContain("/mnt/secret-bucket-root");
    for (const name of ["WAREHOUSE_URL", "WAREHOUSE_PASSWORD", "BUCKET_ROOT", "WAREHOUSE_SCHEMA"]) expect(json).toContain(`"env": "${name}"`);
  });

  it("records runtime paths relative to the manifest's folder, and core's own step entry by default", () => {
    const m = expectValidManifest(toManifest(fixture(), { module: "/a/b/defs.mjs", moduleHash: HASH, exportName: "defs", manifestDir: "/a/c" }));
    expect(m.runtime.module).toBe("../b/defs.mjs");
    expect(m.runtime.export).toBe("defs");
    expect(m.runtime.stepEntry).toBe(relative("/a/c", stepEntryPath));
    expect(stepEntryPath.endsWith(join("step", "bin.js"))).toBe(true);
  });

  it("hashes the module file when no moduleHash is given, and the all-zero hash for a missing one", () => {
    const dir = tempDir();
    const module = join(dir, "defs.mjs");
    writeFileSync(module, "export default 1;\n");
    const m = expectValidManifest(toManifest(fixture(), { module, manifestDir: dir }));
    expect(m.runtime.moduleHash).toBe(moduleHashOf("export default 1;\n"));
    expect(m.runtime.moduleHash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(toManifest(fixture(), { module: join(dir, "gone.mjs"), manifestDir: dir }).runtime.moduleHash).toBe(NO_MODULE_HASH);
  });

  it("timeoutSeconds, pool, pools and the source relative to the project root (issue 12)", () => {
    const root = tempDir();
    writeFileSync(join(root, "package.json"), "{}\n");
    const file = join(root, "src", "defs.ts");
    const located = (key: string, line: number, extra: { timeoutSeconds?: number; pool?: string } = {}) => ({ ...asset({ key, compute: df, ...extra }), file, line });
    const defs = definitions({
      assets: [located("load", 7, { timeoutSeconds: 30, pool: "warehouse" }), located("free", 12), { ...asset({ key: "elsewhere", compute: df }), file: "/elsewhere/defs.ts", line: 3 }],
      pools: { warehouse: { limit: 2, description: "the DWH allows 2 sessions" }, lake: { limit: 1 } },
    });
    // The build passes the project root; by default it is the nearest package.json above the module.
    for (const m of [
      toManifest(defs, { module: join(root, ".baton", "build", "definitions.mjs"), moduleHash: HASH, manifestDir: join(root, ".baton") }),
      toManifest(defs, { module: "/out/baton/runtime/d.mjs", moduleHash: HASH, manifestDir: "/out/baton", projectRoot: root }),
    ]) {
      expectValidManifest(m);
      const byId = Object.fromEntries(m.assets.map((a) => [a.id, a]));
      expect(byId.load).toMatchObject({ timeoutSeconds: 30, pool: "warehouse", source: { file: "src/defs.ts", line: 7 } });
      expect(byId.free).toMatchObject({ timeoutSeconds: null, pool: null, source: { file: "src/defs.ts", line: 12 } });
      expect(byId.elsewhere!.source).toBeNull();
      expect(m.pools).toEqual([
        { name: "lake", limit: 1, description: null },
        { name: "warehouse", limit: 2, description: "the DWH allows 2 sessions" },
      ]);
    }
    // A manifest written before these fields existed still validates (they are optional in the schema).
    const old = JSON.parse(JSON.stringify(build())) as { assets: Record<string, unknown>[]; pools?: unknown };
    delete old.pools;
    for (const a of old.assets) for (const k of ["timeoutSeconds", "pool", "source"]) delete a[k];
    expect(manifestProblems(old)).toEqual([]);
    expect(manifestProblems({ ...old, pools: [{ name: "x y", limit: 0, description: null }] }).length).toBeGreaterThan(0);
  });

  it("an asset declared in a test file under the project gets its file and line", () => {
    const here = asset({ key: "here", compute: df });
    const m = expectValidManifest(toManifest(definitions({ assets: [here] }), { module: "/p/d.mjs", moduleHash: HASH, manifestDir: "/p", projectRoot: fileURLToPath(new URL("../..", import.meta.url)) }));
    expect(m.assets[0]!.source).toEqual({ file: "src/manifest/manifest.test.ts", line: expect.any(Number) });
    expect(m.assets[0]!.source!.line).toBe(here.line);
  });

  it("a minimal definitions gives a minimal valid manifest", () => {
    const m = expectValidManifest(toManifest(definitions({ assets: [asset({ key: "only", compute: df })] }), { module: "/p/d.mjs", moduleHash: HASH, manifestDir: "/p" }));
    expect(m.assets).toHaveLength(1);
    expect(m.resources).toEqual([]);
    expect(m.schedules).toEqual([]);
    expect(m.sensors).toEqual([]);
  });
});

describe("manifestProblems", () => {
  it("is empty for a valid manifest and names the path of each problem otherwise", () => {
    const m = build() as Manifest & Record<string, unknown>;
    expect(manifestProblems(m)).toEqual([]);
    const broken = JSON.parse(JSON.stringify(m)) as Record<string, any>;
    broken.assets[0].format = "csv";
    delete broken.runtime.module;
    broken.extra = 1;
    const problems = manifestProblems(broken);
    expect(problems).toContain("/assets/0/format must be equal to one of the allowed values");
    expect(problems).toContain("/runtime must have required property 'module'");
    expect(problems).toContain("/ must NOT have additional properties");
    expect(manifestProblems(null)).not.toEqual([]);
  });
});

describe("readManifest", () => {
  const write = (text: string) => {
    const path = join(tempDir(), "manifest.json");
    writeFileSync(path, text);
    return path;
  };

  it("reads back a manifest written by manifestToJson", () => {
    const m = build();
    expect(readManifest(write(manifestToJson(m)))).toEqual(m);
  });

  it("rejects invalid JSON with an error naming the file", () => {
    const path = write("{ \"manifestVersion\": 2, ");
    const e = thrownSync(() => readManifest(path));
    expect(e).toMatchObject({ code: "MANIFEST", file: path });
    expect(e.message).toContain(path);
    expect(e.message).toContain("cannot read the manifest");
    expect(e.hint).toContain("baton manifest");
  });

  it("rejects a missing file with an error naming it", () => {
    const path = join(tempDir(), "nope.json");
    expect(thrownSync(() => readManifest(path))).toMatchObject({ code: "MANIFEST", file: path });
  });

  it("rejects a schema mismatch, listing the problems", () => {
    const broken = JSON.parse(manifestToJson(build())) as Record<string, any>;
    broken.assets[1].key = [];
    const path = write(JSON.stringify(broken));
    const e = thrownSync(() => readManifest(path));
    expect(e).toMatchObject({ code: "MANIFEST", file: path });
    expect(e.message).toContain("the manifest does not match its schema");
    expect(e.message).toContain("/assets/1/key must NOT have fewer than 1 items");
    expect(e.message).toContain(path);
  });

  it("rejects an unsupported manifestVersion, naming the file and both versions", () => {
    const older = { ...JSON.parse(manifestToJson(build())), manifestVersion: 1 };
    const path = write(JSON.stringify(older));
    const e = thrownSync(() => readManifest(path));
    expect(e).toMatchObject({ code: "MANIFEST", file: path });
    expect(e.message).toContain(path);
    expect(e.message).toContain("manifest version 1 is not one @baton/core can read (it reads 2)");
    expect(e.hint).toContain("version 2");
    const adapter = thrownSync(() => readManifest(path, ACCEPTED_MANIFEST_VERSIONS, "@baton/adapter-x"));
    expect(adapter.message).toContain("not one @baton/adapter-x can read (it reads 2)");
    expect(adapter.hint).toContain("upgrade @baton/adapter-x");
  });
});
