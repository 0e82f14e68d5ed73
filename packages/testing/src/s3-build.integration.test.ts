import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStore } from "@baton/core";
import { buildTarget, type BatonAdapter } from "@baton/core/build";
import { EVENT_PREFIX, type StepEvent } from "@baton/core/step";
import { startMoto, type MotoServer } from "./moto.js";
import { findCheckout, relocate, type Relocated } from "./relocation.js";

/*
 * A build whose steps use s3:// works on a worker that has only the build: the runtime carries
 * the AWS SDK (core's optional peers), and a step run from a copy of the build, with the checkout
 * hidden, writes to the bucket.
 */
const EXAMPLE = join(findCheckout(), "examples", "customer-metrics");

/** The least adapter core's build runner accepts (core's build is what is under test, not an orchestrator). */
const plainAdapter: BatonAdapter<Record<string, never>> = {
  name: "plain",
  title: "Plain build",
  supports: { timePartitions: true, staticPartitions: true, partitionRanges: "one run per key", schedules: true, sensors: true, checks: true, retries: true, resources: true },
  options: {},
  runtime: { stepPackage: "@baton/core", stepBin: "dist/step/bin.js" },
  python: () => ({ wheels: [], requirements: [] }),
  resolveOptions: () => ({}),
  problems: () => [],
  emit: ({ manifest }) => [{ path: "plain/assets.txt", content: manifest.assets.map((a) => a.id).join("\n") + "\n" }],
  plan: (manifest) => ({ target: "plain", assets: manifest.assets.map((a) => ({ id: a.id, becomes: [a.id], partitions: null })), edges: [], schedules: [], sensors: [], unsupported: [] }),
  nextSteps: () => [],
};

let moto: MotoServer;
let out: string;
let r: Relocated;
const url = () => moto.storageUrl("from-build");

beforeAll(async () => {
  moto = await startMoto();
  out = join(mkdtempSync(join(tmpdir(), "baton-s3-build-")), "out");
  await buildTarget(plainAdapter, { projectRoot: EXAMPLE, definitionsFile: "src/definitions.ts", outDir: out, storage: url() });
  r = relocate(out);
}, 300_000);
afterAll(async () => {
  r?.cleanup();
  if (out) rmSync(join(out, ".."), { recursive: true, force: true });
  await moto?.stop();
}, 120_000);

describe("a build on s3:// (moto)", () => {
  it("carries @aws-sdk/client-s3 and @aws-sdk/lib-storage in its runtime", () => {
    for (const name of ["@aws-sdk/client-s3", "@aws-sdk/lib-storage", "@smithy/core"]) {
      expect(existsSync(join(out, "baton", "runtime", "node_modules", ...name.split("/"), "package.json")), name).toBe(true);
    }
    expect(JSON.parse(readFileSync(join(out, "baton", "build.json"), "utf8"))).toMatchObject({ storage: url() });
  });

  it("a step from a copy of the build, with the checkout hidden, writes the example into the bucket the build names", async () => {
    const step = join(r.dir, "baton", "runtime", "node_modules", "@baton", "core", "dist", "step", "bin.js");
    const assets = ["orders", "customers", "customer_metrics"].flatMap((a) => ["--asset", a]);
    const res = await r.run("node", [step, "run", "--manifest", join(r.dir, "baton", "manifest.json"), ...assets, "--run-id", "from-build-1"], { env: moto.env });
    expect(res.code, res.stderr).toBe(0);
    const events = res.stdout
      .split("\n")
      .filter((l) => l.startsWith(EVENT_PREFIX))
      .map((l) => JSON.parse(l.slice(EVENT_PREFIX.length)) as StepEvent);
    const mats = events.filter((e): e is Extract<StepEvent, { type: "materialization" }> => e.type === "materialization");
    expect(mats.map((e) => e.asset)).toEqual(["orders", "customers", "customer_metrics"]);
    for (const m of mats) expect(m.metadata.path).toMatch(new RegExp(`^${url()}/${m.asset}/__unpartitioned__/data-`));
    expect(res.stderr).not.toContain("NodeVersionSupportWarning");
    expect(res.stdout + res.stderr).not.toContain(moto.env.AWS_SECRET_ACCESS_KEY!);
    const { frame } = await openStore(url(), moto.env).read(["customer_metrics"], undefined);
    expect(frame.height).toBeGreaterThan(0);
    expect(frame.columns).toContain("total_spend");
  });

  it("without the SDK in the runtime, an s3:// step fails before compute with the install command (exit 3)", async () => {
    rmSync(join(r.dir, "baton", "runtime", "node_modules", "@aws-sdk", "client-s3"), { recursive: true });
    const step = join(r.dir, "baton", "runtime", "node_modules", "@baton", "core", "dist", "step", "bin.js");
    const res = await r.run("node", [step, "run", "--manifest", join(r.dir, "baton", "manifest.json"), "--asset", "orders", "--run-id", "no-sdk"], { env: { ...moto.env, BATON_STORAGE: moto.storageUrl("no-sdk") } });
    expect(res.code, res.stderr).toBe(3);
    const failure = res.stdout
      .split("\n")
      .filter((l) => l.startsWith(EVENT_PREFIX))
      .map((l) => JSON.parse(l.slice(EVENT_PREFIX.length)) as StepEvent)
      .find((e) => e.type === "asset_failure");
    expect(failure).toMatchObject({ asset: "orders", error: { retryable: false } });
    const message = (failure as Extract<StepEvent, { type: "asset_failure" }>).error.message;
    expect(message).toContain("BATON_STORAGE is s3://");
    expect(message).toContain("pnpm add @aws-sdk/client-s3@3.1175.0 @aws-sdk/lib-storage@3.1175.0");
    expect(await openStore(moto.storageUrl("no-sdk"), moto.env).listFiles()).toEqual([]);
  });
});
