import { expect } from "vitest";
import { lstatSync, readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import type { IOStore } from "@baton/core";
import { EXPECTED_OUTPUTS, expectedKey } from "../fixtures/expected.js";
import type { Capability, HarnessEnvironment, HarnessRun, RuntimeHarness } from "./harness.js";

// What every family of cases asserts with: the case types, the golden-output and recorded-run checks, the canary scan.

export interface CaseContext {
  readonly harness: RuntimeHarness;
  readonly environment: HarnessEnvironment;
  /** The runtime's store, opened by the suite from `environment.storage` (a folder or s3://). */
  readonly store: IOStore;
}

export interface ConformanceCase {
  readonly name: string;
  readonly capability: Capability;
  /** Only for suite runs on this kind of store (absent: every run). */
  readonly storage?: "local" | "s3";
  run(ctx: CaseContext): Promise<void>;
}

/** The stored output's hash and row count must equal the golden values of the fixtures. */
export async function expectOutput(ctx: CaseContext, asset: string, partitionKey?: string): Promise<void> {
  const record = await ctx.store.readRecord(asset.split("/"), partitionKey);
  expect(record, `no stored output for ${expectedKey(asset, partitionKey)}`).toBeDefined();
  const golden = EXPECTED_OUTPUTS[expectedKey(asset, partitionKey)];
  expect(golden, `no golden value for ${expectedKey(asset, partitionKey)}`).toBeDefined();
  expect({ asset: expectedKey(asset, partitionKey), rowCount: record!.rowCount, contentHash: record!.contentHash }).toEqual({
    asset: expectedKey(asset, partitionKey),
    rowCount: golden!.rowCount,
    contentHash: golden!.contentHash,
  });
}

/** The orchestrator recorded each asset as succeeded, with at least one materialization, and the run as success. */
export function expectSucceeded(run: HarnessRun, assets: readonly string[]): void {
  for (const id of assets) {
    expect({ id, status: run.assets[id]?.status, error: run.assets[id]?.error ?? null }).toEqual({ id, status: "success", error: null });
    expect(recordedKeys(run, id).length, `the orchestrator recorded no materialization for ${id}`).toBeGreaterThan(0);
  }
  expect(run.status).toBe("success");
}

/** The partition keys the orchestrator recorded materializations for (null = unpartitioned), sorted. */
export function recordedKeys(run: HarnessRun, asset: string): (string | null)[] {
  return run.materializations
    .filter((m) => m.asset === asset)
    .map((m) => m.partitionKey)
    .sort();
}

/** The orchestrator recorded the asset as failed (with a message) and no materialization of it. */
export function expectFailedWithout(run: HarnessRun, asset: string): string {
  expect(run.status).toBe("failure");
  expect({ asset, status: run.assets[asset]?.status }).toEqual({ asset, status: "failure" });
  expect({ asset, materializations: recordedKeys(run, asset) }).toEqual({ asset, materializations: [] });
  const error = run.assets[asset]?.error ?? "";
  expect(error, `no failure message for ${asset}`).not.toBe("");
  return error;
}

/** The orchestrator recorded the asset as failed, saying it timed out, with no materialization. */
export function expectTimedOut(run: HarnessRun, asset: string): void {
  const error = expectFailedWithout(run, asset);
  expect(error, `${asset} failed, but its error does not say it timed out`).toContain("timed out");
}

/** Every file under `dir` (symlinks not followed), relative to it. */
export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    let entries: string[];
    try {
      entries = readdirSync(d);
    } catch {
      return;
    }
    for (const name of entries) {
      const full = join(d, name);
      const st = lstatSync(full, { throwIfNoEntry: false });
      if (st?.isDirectory()) walk(full);
      else if (st?.isFile()) out.push(relative(dir, full));
    }
  };
  walk(dir);
  return out.sort();
}

/**
 * The canaries: the fixture's API token, on s3 runs the store's AWS secret access key, and with an Iceberg
 * catalog its S3 secret access key (the step has them in its environment, so they must be redacted like any
 * resource secret).
 */
export function canaries(ctx: CaseContext): Record<string, string> {
  const env = ctx.environment.env;
  const out: Record<string, string> = { FIXTURE_API_TOKEN: env.FIXTURE_API_TOKEN! };
  if (env.AWS_SECRET_ACCESS_KEY !== undefined) out.AWS_SECRET_ACCESS_KEY = env.AWS_SECRET_ACCESS_KEY;
  // The Iceberg catalog's S3 key (capability icebergOutput): a secret of every step that writes or reads a table.
  if (env.ICEBERG_S3_SECRET_ACCESS_KEY !== undefined) out.ICEBERG_S3_SECRET_ACCESS_KEY = env.ICEBERG_S3_SECRET_ACCESS_KEY;
  for (const [name, value] of Object.entries(out)) expect(value.length, `the canary ${name} is too short to be found reliably`).toBeGreaterThan(8);
  return out;
}

/**
 * No canary secret appears in `texts` (the orchestrator's records), in a file under the harness's
 * work dir (logs, databases, compute logs), or in an object of the IO store (read through the store,
 * so the scan holds for a folder and for s3).
 */
export async function expectNoCanary(ctx: CaseContext, texts: Readonly<Record<string, string>>): Promise<void> {
  const secrets = Object.entries(canaries(ctx));
  const leaks: string[] = [];
  const scan = (where: string, text: string) => {
    for (const [name, value] of secrets) if (text.includes(value)) leaks.push(`${name} in ${where}`);
  };
  for (const [what, text] of Object.entries(texts)) scan(what, text);
  const root = ctx.environment.workDir;
  for (const file of filesUnder(root)) {
    try {
      scan(join(root, file), readFileSync(join(root, file), "latin1"));
    } catch {
      // a file removed while scanning (a log rotated, a temp file) cannot hold the canary any more
    }
  }
  for (const file of await ctx.store.listFiles()) {
    let text: string;
    try {
      text = await ctx.store.readText(file);
    } catch (e) {
      // An object collected while scanning (a superseded data file) cannot hold a canary any more.
      if (!(await ctx.store.listFiles()).includes(file)) continue;
      throw e;
    }
    scan(`${ctx.store.url}/${file}`, text);
  }
  expect(leaks, `a canary secret leaked: ${leaks.join("; ")}`).toEqual([]);
}


/**
 * Each run is made once per suite run and shared by the cases that read it (the materialization case, the
 * metadata case, the run-alone case, which needs their stored outputs), whichever of them runs first.
 */
const sharedRuns = new WeakMap<CaseContext, Map<string, Promise<HarnessRun>>>();
export function sharedRun(ctx: CaseContext, name: string, make: () => Promise<HarnessRun>): Promise<HarnessRun> {
  let runs = sharedRuns.get(ctx);
  if (runs === undefined) sharedRuns.set(ctx, (runs = new Map()));
  let run = runs.get(name);
  if (run === undefined) runs.set(name, (run = make()));
  return run;
}
