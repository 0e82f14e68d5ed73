import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import type { Manifest } from "@baton/core";
import { buildTarget } from "@baton/core/build";
import { adapter } from "./adapter.js";
import { airflowId, dagIdsFor, FIXED_TASK_IDS } from "./ids.js";
import { airflowEnvironment, airflowPython, packageDir } from "./testing/airflow.js";

const run = promisify(execFile);
const root = mkdtempSync(join(tmpdir(), "baton-airflow-scale-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface Parsed {
  importErrors: Record<string, string>;
  /** DAG id -> task id -> upstream task ids, read back from each DAG's serialized form. */
  dags: Record<string, Record<string, string[]>>;
  importSeconds: number[];
  serializeSeconds: number[];
}

describe("a project of 20,000 assets", () => {
  it("loads in Airflow's DagBag (default 30 s import timeout) with every task and dependency", async () => {
    const out = join(root, "dags");
    await buildTarget(adapter, { projectRoot: packageDir, definitionsFile: join(packageDir, "src", "__tests__", "scale-definitions.mjs"), outDir: out });
    const manifest = JSON.parse(readFileSync(join(out, "baton", "manifest.json"), "utf8")) as Manifest;
    expect(manifest.assets).toHaveLength(20_000);

    // Airflow's DAG processor's parse (python/harness/parse_dag_file.py): the DagBag import, under
    // [core] dagbag_import_timeout left at its default, then the serialization it stores.
    const env = airflowEnvironment(root, out);
    mkdirSync(env.AIRFLOW_HOME!, { recursive: true });
    const report = join(root, "parsed.json");
    await run(airflowPython().bin("python"), [join(packageDir, "python", "harness", "parse_dag_file.py"), join(out, "baton_dags.py"), out, report], {
      env,
      maxBuffer: 256 * 1024 * 1024,
      timeout: 300_000,
      killSignal: "SIGKILL",
    });
    const parsed = JSON.parse(readFileSync(report, "utf8")) as Parsed;
    // Not asserted: how long it took (bench/scale.mjs compares it with a hand-written file).
    console.log(`20,000 assets: DagBag import ${parsed.importSeconds[0]!.toFixed(1)} s, serialization ${parsed.serializeSeconds[0]!.toFixed(1)} s`);
    expect(parsed.importErrors).toEqual({});
    expect(Object.keys(parsed.dags).sort()).toEqual(dagIdsFor(manifest).sort());

    // Each asset DAG holds a task per asset of it, wired like the asset graph. Task ids may carry a
    // TaskGroup prefix ("group.task"), so tasks are matched by their last segment.
    const dagAssets: Record<string, readonly string[]> = {
      baton_assets: manifest.assets.map((a) => a.id),
      ...Object.fromEntries(manifest.schedules.map((s) => [`baton_schedule_${airflowId(s.name)}`, s.assets])),
    };
    const assetsById = new Map(manifest.assets.map((a) => [a.id, a]));
    for (const [dagId, ids] of Object.entries(dagAssets)) {
      const tasks = parsed.dags[dagId]!;
      const byAirflowId = new Map(Object.keys(tasks).map((t) => [t.split(".").at(-1)!, t]));
      // inline_checks exists only in a DAG with an inline check; each standalone check is a task of its own.
      const checks = ids.flatMap((id) => assetsById.get(id)!.checks);
      const fixedTasks = FIXED_TASK_IDS.filter((t) => t !== "inline_checks" || checks.some((c) => !c.standalone));
      const standalone = checks.filter((c) => c.standalone).length;
      expect(Object.keys(tasks)).toHaveLength(ids.length + fixedTasks.length + standalone);
      for (const fixed of fixedTasks) expect(byAirflowId.has(fixed), `${dagId}: ${fixed}`).toBe(true);
      const inDag = new Set(ids);
      const missing: string[] = [];
      const miswired: string[] = [];
      for (const id of ids) {
        const task = byAirflowId.get(airflowId(id));
        if (task === undefined) {
          missing.push(id);
          continue;
        }
        const deps = assetsById.get(id)!.deps.filter((d) => inDag.has(d.id));
        const expected = deps.length ? deps.map((d) => byAirflowId.get(airflowId(d.id))) : [byAirflowId.get("plan")];
        if (JSON.stringify([...tasks[task]!].sort()) !== JSON.stringify([...expected].sort())) miswired.push(id);
      }
      expect(missing, `${dagId}: assets without a task`).toEqual([]);
      expect(miswired, `${dagId}: tasks whose upstream is not the asset's deps`).toEqual([]);
    }
  });
});
