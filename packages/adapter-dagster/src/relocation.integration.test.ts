/**
 * The example as a user deploys it: `baton dagster build`, the folder copied to another machine
 * (the checkout hidden, a fresh HOME), its Python side installed from the folder alone, then
 * Dagster run there: `dg check defs`, `dg launch` (headless materializations) and `dg dev`.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalIOStore, loadDefinitions, materialize } from "@baton/core";
import { compareFolders, portabilityProblems, relocate, type PythonEnv, type Relocated, type RelocatedRunOptions, freePort } from "@baton/testing";
import { buildExample, exampleDir, type DagsterProject } from "./__tests__/dagster-harness.js";
import { stopGroup, watchDagsterDev, type DagsterDev } from "./__tests__/dagster-dev.js";

const uv = process.env.BATON_UV ?? execFileSync("sh", ["-c", "command -v uv"], { encoding: "utf8" }).trim();
const python = execFileSync(uv, ["python", "find", "3.11"], { encoding: "utf8" }).trim();
const uvCache = process.env.UV_CACHE_DIR ?? execFileSync(uv, ["cache", "dir"], { encoding: "utf8" }).trim();
const UNPARTITIONED = ["orders", "customers", "customer_metrics", "published_metrics"];
const PARTITION = "2024-01-03";

let work: string;
let project: DagsterProject;
let relocated: Relocated;
let deployment: PythonEnv;
/** The dg project's own environment (`uv sync` in the folder): dg, and dagster from the pins. */
let dgEnv: PythonEnv;
let reference: Record<string, string>;

/** What the relocated commands share: one Dagster instance and IO store inside the copy's temp folder. */
function env(): Record<string, string> {
  const root = dirname(relocated.dir);
  return { DAGSTER_HOME: join(root, "dagster-home"), BATON_STORAGE: join(root, "storage"), WAREHOUSE_URL: join(root, "warehouse"), PYTHONWARNINGS: "ignore::UserWarning" };
}

async function run(cmd: string, args: readonly string[], options: RelocatedRunOptions = {}): Promise<string> {
  const r = await relocated.run(cmd, args, { venv: dgEnv, env: env(), timeoutMs: 600_000, ...options });
  if (r.code !== 0) throw new Error(`\`${cmd} ${args.join(" ")}\` exited ${r.code} in the relocated build\n--- stdout\n${r.stdout.slice(-4000)}\n--- stderr\n${r.stderr.slice(-6000)}`);
  return r.stdout + r.stderr;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "baton-dagster-relocation-"));
  project = await buildExample(join(work, "out"));
  relocated = relocate(project.outDir);
  mkdirSync(env().DAGSTER_HOME!, { recursive: true });
  // 1. What a code-location image does: a fresh venv from requirements.txt only.
  deployment = await relocated.venv("requirements.txt");
  // 2. The dg project's own environment, as its pyproject.toml declares it.
  await run(uv, ["sync", "--quiet", "--python", python], { venv: null, path: [dirname(uv)], env: { ...env(), UV_CACHE_DIR: uvCache, UV_PYTHON_DOWNLOADS: "never" } });
  const venvDir = join(relocated.dir, ".venv");
  dgEnv = { dir: venvDir, python: join(venvDir, "bin", "python"), bin: (tool) => join(venvDir, "bin", tool) };
  // The reference: the same assets in place, through Baton's embedded executor.
  const defs = await loadDefinitions(join(exampleDir, "src", "definitions.ts"));
  const store = new LocalIOStore(join(work, "embedded-storage"));
  const all = await materialize(defs, { selection: "+customer_metrics", store });
  const daily = await materialize(defs, { selection: "daily_revenue", partition: PARTITION, store });
  reference = {};
  for (const id of ["orders", "customers", "customer_metrics"]) reference[id] = all.assets[id]!.materializations[0]!.metadata.contentHash!;
  reference[`daily_revenue[${PARTITION}]`] = daily.assets.daily_revenue!.materializations[0]!.metadata.contentHash!;
}, 1_200_000);

// Removing a relocated build and its fresh venv takes longer than vitest's 10 s hook default on a busy machine.
afterAll(() => {
  relocated?.cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
}, 180_000);

describe("examples/customer-metrics built for Dagster, relocated", () => {
  it("is portable (no absolute path or `..`) and deterministic (a second build is byte-identical)", async () => {
    expect(portabilityProblems(project.outDir)).toEqual([]);
    const second = await buildExample(join(work, "second"));
    expect(compareFolders(project.outDir, second.outDir)).toEqual([]);
  }, 120_000);

  it("loads from requirements.txt alone, as a code-location image does", async () => {
    const out = await run(deployment.bin("dagster"), ["definitions", "validate", "-m", `${project.module}.definitions`, "-d", "src"], { venv: deployment });
    expect(out).toContain("Validation successful");
  }, 300_000);

  it("passes `dg check defs`", async () => {
    const out = await run(dgEnv.bin("dg"), ["check", "defs"]);
    expect(out).toContain("All definitions loaded successfully.");
  }, 300_000);

  it("materializes headless with `dg launch`: Dagster's run records and materializations, with the content hashes of the same assets run in place", async () => {
    await run(dgEnv.bin("dg"), ["launch", "--assets", UNPARTITIONED.join(",")]);
    await run(dgEnv.bin("dg"), ["launch", "--assets", "daily_revenue", "--partition", PARTITION]);
    const script = `
import json
import dagster as dg
from dagster._core.events import DagsterEventType

instance = dg.DagsterInstance.get()
out = {"runs": [], "materializations": {}, "checks": {}}
for run in instance.get_runs():
    out["runs"].append(run.status.value)
    for kind in (DagsterEventType.ASSET_MATERIALIZATION, DagsterEventType.ASSET_CHECK_EVALUATION):
        for record in instance.get_records_for_run(run.run_id, of_type=kind).records:
            event = record.event_log_entry.dagster_event
            data = event.event_specific_data
            if kind == DagsterEventType.ASSET_MATERIALIZATION:
                m = data.materialization
                key = m.asset_key.to_user_string() + (f"[{m.partition}]" if m.partition else "")
                hashed = m.metadata.get("baton/content_hash")
                out["materializations"][key] = hashed.value if hashed is not None else None
            else:
                out["checks"][data.asset_check_key.to_user_string()] = data.passed
print(json.dumps(out, sort_keys=True))
`;
    const records = JSON.parse((await relocated.run(dgEnv.python, ["-c", script], { venv: dgEnv, env: env() })).stdout.trim().split("\n").at(-1)!) as {
      runs: string[];
      materializations: Record<string, string | null>;
      checks: Record<string, boolean>;
    };
    expect(records.runs).toEqual(["SUCCESS", "SUCCESS"]);
    expect(Object.keys(records.materializations).sort()).toEqual([...UNPARTITIONED, `daily_revenue[${PARTITION}]`].sort());
    // published_metrics writes no table: no content hash.
    const { published_metrics: published, ...hashed } = records.materializations;
    expect(published).toBeNull();
    expect(hashed).toEqual(reference);
    expect(records.checks).toEqual({ "customer_metrics:spend_is_positive": true, "orders:orders_have_customers": true });
  }, 900_000);

  it("serves the code location with `dg dev`", async () => {
    const port = await freePort();
    const child = relocated.spawn(dgEnv.bin("dg"), ["dev", "--port", String(port), "--host", "127.0.0.1"], { venv: dgEnv, env: env() });
    let dev: DagsterDev | undefined;
    try {
      dev = await watchDagsterDev(child, port, project.module, "dg dev");
      const { assetNodes } = await dev.gql<{ assetNodes: { assetKey: { path: string[] } }[] }>(`{ assetNodes { assetKey { path } } }`);
      expect(assetNodes.map((n) => n.assetKey.path.join("/")).sort()).toEqual([...UNPARTITIONED, "daily_revenue"].sort());
    } finally {
      await stopGroup(child);
    }
  }, 600_000);
});
