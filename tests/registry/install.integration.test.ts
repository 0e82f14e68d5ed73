/**
 * The install path of the root README ("Install Baton into your own project"), step by step, as a
 * user outside this repository follows it, with npm (not pnpm) and nothing of the workspace:
 *
 *   1. `make pack` (scripts/pack.sh; turbo built the packages already) writes the npm tarballs and
 *      the wheels to a dist/ folder;
 *   2. `npx --package=<core tarball> baton init my-pipeline` in a fresh folder outside the repository;
 *   3. `npm install` of the core tarball and the Airflow adapter's, plus the step `baton init`
 *      printed for Node 20 (nodejs-polars' native package); `npm test` and `baton materialize` pass;
 *   4. `npx baton airflow build --out build/airflow`: the build folder declares its Python side
 *      (requirements.txt, wheels/) and carries its Node runtime;
 *   5. a fresh virtual environment from that requirements.txt alone (uv), then Airflow as a user
 *      starts it: `airflow db migrate`, `airflow dags reserialize`, `airflow dags list`, and one
 *      `airflow dags test` per DAG, which runs the project's steps from the build folder.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { airflowHome, jsonOutput, storedRecords, type AirflowHome } from "./lib/airflow.js";
import { run } from "./lib/exec.js";
import { npxBaton, removeNpxInstalls, sha256, unpack, userEnv } from "./lib/user.js";
import { REPO_ROOT, workspacePackages } from "./lib/workspace.js";

const PACKAGES = ["@baton/core", "@baton/adapter-dagster", "@baton/adapter-airflow", "@baton/adapter-prefect", "@baton/testing"];
const WHEELS: Record<string, string> = { "@baton/core": "baton_core", "@baton/adapter-dagster": "baton_dagster", "@baton/adapter-airflow": "baton_airflow", "@baton/adapter-prefect": "baton_prefect" };

const versions = new Map(workspacePackages(REPO_ROOT).map((p) => [p.name, p.version]));
const tarballName = (name: string) => `${name.slice(1).replace("/", "-")}-${versions.get(name)}.tgz`;
const wheelName = (name: string) => `${WHEELS[name]}-${versions.get(name)}-py3-none-any.whl`;

let work = "";
let dist = "";
let app = "";
let out = "";
let polarsStep: string | undefined; // the nodejs-polars install line `baton init` printed, if any
let home: AirflowHome | undefined;
let dagIds: string[] = [];
// Deadlines are generous: on a cold cache npm, npx and uv download from their registries.
const npm = (args: readonly string[], timeoutMs = 4 * 60_000) => run("npm", [...args, "--no-audit", "--no-fund"], { cwd: app, env: userEnv(), timeoutMs });

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "baton-install-"));
  dist = join(work, "dist");
  await run("bash", [join(REPO_ROOT, "scripts", "pack.sh"), "--no-build", dist], { cwd: REPO_ROOT, timeoutMs: 4 * 60_000 });
}, 5 * 60_000);

afterAll(async () => {
  if (!work) return;
  await removeNpxInstalls(work); // what `npx --package=<tarball in work>` left in the npm cache
  if (!process.env.BATON_KEEP_REGISTRY_TEST) rmSync(work, { recursive: true, force: true });
});

describe("install Baton into a project outside the repository (README path)", () => {
  it("(1) make pack writes the user-facing tarballs, with real version ranges, and the four wheels they carry", async () => {
    const expected = [...PACKAGES.map(tarballName), ...Object.keys(WHEELS).map(wheelName)].sort();
    expect(readdirSync(dist).sort()).toEqual(expected);
    for (const name of PACKAGES) {
      const pkgDir = await unpack(join(dist, tarballName(name)), join(work, "unpacked", name.slice(1)));
      const manifest = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8")) as Record<string, Record<string, string> | undefined>;
      for (const field of ["dependencies", "peerDependencies", "optionalDependencies"])
        for (const [dep, range] of Object.entries(manifest[field] ?? {})) expect(range, `${name} ${field} → ${dep}`).not.toMatch(/^workspace:/);
      // dist/ holds the very wheel the npm package ships.
      if (WHEELS[name]) expect(sha256(join(pkgDir, "python", "dist", wheelName(name))), wheelName(name)).toBe(sha256(join(dist, wheelName(name))));
    }
  });

  it("(2) `npx --package=<core tarball> baton init my-pipeline` scaffolds the project in a fresh folder", async () => {
    const polars = JSON.parse(readFileSync(join(REPO_ROOT, "packages", "core", "package.json"), "utf8")).dependencies["nodejs-polars"] as string;
    const init = await npxBaton(join(dist, tarballName("@baton/core")), ["init", "my-pipeline"], work, polars);
    app = join(work, "my-pipeline");
    expect(init.stdout).toMatch(/created the Baton project my-pipeline/);
    for (const f of ["package.json", ".gitignore", "tsconfig.json", "src/definitions.ts", "src/logic/totals.ts", "src/logic/totals.test.ts"]) expect(existsSync(join(app, f)), f).toBe(true);
    polarsStep = /^\s*npm install (nodejs-polars-[a-z0-9-]+@[0-9.]+)/m.exec(init.stdout)?.[1];
    if (Number(process.versions.node.split(".")[0]) < 22) {
      expect(polarsStep, "on Node < 22, baton init names the native package npm skips").toBeDefined();
      if (init.polarsBinary) expect(polarsStep).toBe(`${init.polarsBinary}@${polars}`);
    } else expect(polarsStep).toBeUndefined();
  }, 8 * 60_000);

  it("(3) npm install of the core and Airflow tarballs; the logic's unit test and `baton materialize` pass there", async () => {
    expect(app, "step (2) must have scaffolded the project").not.toBe("");
    await npm(["install", join(dist, tarballName("@baton/core")), join(dist, tarballName("@baton/adapter-airflow"))]);
    if (polarsStep) await npm(["install", polarsStep]);
    expect(readdirSync(join(app, "node_modules", "@baton")).sort()).toEqual(["adapter-airflow", "core"]);

    const tests = await npm(["test"], 120_000);
    expect(tests.stdout + tests.stderr).toMatch(/1 passed/);

    const storage = join(app, ".baton", "storage");
    const materialized = await run("npx", ["baton", "materialize", "--json"], { cwd: app, env: userEnv(), timeoutMs: 120_000 });
    const result = JSON.parse(materialized.stdout) as { status: string; assets: Record<string, { status: string }> };
    expect(result.status).toBe("success");
    expect(Object.keys(result.assets).sort()).toEqual(["customer_totals", "orders"]);
    expect(storedRecords(storage)["customer_totals"]?.rowCount).toBe(3);
  }, 10 * 60_000);

  it("(4) `baton airflow build --out build/airflow` writes a build that declares its Python side and carries its runtime", async () => {
    expect(app, "step (3) must have installed the packages").not.toBe("");
    // The README's step 3 starts with the plan: what the build would produce, writing nothing.
    const planned = await run("npx", ["baton", "airflow", "plan", "--json"], { cwd: app, env: userEnv(), timeoutMs: 120_000 });
    const plan = JSON.parse(planned.stdout) as { target: string; assets: { id: string; becomes: string[] }[] };
    expect(plan.target).toBe("airflow");
    expect(plan.assets.map((a) => a.id).sort()).toEqual(["customer_totals", "orders"]);
    for (const a of plan.assets) expect(a.becomes.length, a.id).toBeGreaterThan(0);
    expect(existsSync(join(app, "build")), "plan writes nothing").toBe(false);

    const built = await run("npx", ["baton", "airflow", "build", "--out", "build/airflow"], { cwd: app, env: userEnv(), timeoutMs: 4 * 60_000 });
    out = join(app, "build", "airflow");
    const requirements = readFileSync(join(out, "requirements.txt"), "utf8");
    expect(requirements).toMatch(/^--find-links wheels$/m);
    expect(requirements).toMatch(/^apache-airflow==\d+\.\d+\.\d+$/m);
    expect(requirements).toContain(`baton-core==${versions.get("@baton/core")}`);
    expect(requirements).toContain(`baton-airflow==${versions.get("@baton/adapter-airflow")}`);
    // The wheels are the packed ones, from the installed npm packages.
    for (const name of ["@baton/core", "@baton/adapter-airflow"]) expect(sha256(join(out, "wheels", wheelName(name))), wheelName(name)).toBe(sha256(join(dist, wheelName(name))));
    const manifest = JSON.parse(readFileSync(join(out, "baton", "manifest.json"), "utf8")) as { runtime: { module: string; stepEntry: string } };
    expect(manifest.runtime.module).toMatch(/^runtime\/definitions-[0-9a-f]{16}\.mjs$/);
    expect(existsSync(join(out, "baton", manifest.runtime.module))).toBe(true);
    expect(existsSync(join(out, "baton", manifest.runtime.stepEntry)), manifest.runtime.stepEntry).toBe(true);
    expect(built.stdout + built.stderr).not.toMatch(/✘/);
  }, 6 * 60_000);

  it("(5) a fresh venv from the build's requirements.txt; Airflow lists the DAGs after db migrate + dags reserialize", async () => {
    expect(out, "step (4) must have built the project").not.toBe("");
    // The README's commands, from the project folder: the requirements file alone, its Baton wheels from the build.
    const venv = join(app, ".venv");
    const uv = process.env.BATON_UV ?? "uv";
    await run(uv, ["venv", "--quiet", "--python", "3.11", ".venv"], { cwd: app, env: userEnv(), timeoutMs: 4 * 60_000 });
    await run(uv, ["pip", "install", "--quiet", "--python", ".venv/bin/python", "-r", "build/airflow/requirements.txt"], { cwd: app, env: userEnv(), timeoutMs: 8 * 60_000 });
    const where = await run(join(venv, "bin", "python"), ["-c", "import baton_airflow, baton_core; print(baton_airflow.__file__); print(baton_core.__file__)"], { cwd: work, env: userEnv(), timeoutMs: 60_000 });
    for (const file of where.stdout.trim().split("\n")) expect(file.startsWith(join(venv, "lib")), file).toBe(true);

    home = await airflowHome({ venvBin: join(venv, "bin"), cwd: app, dagsFolder: out, home: join(app, ".airflow"), storage: join(app, ".baton", "airflow-storage") });
    const errors = jsonOutput<unknown[]>(await home.airflow(["dags", "list-import-errors", "--output", "json"]));
    expect(errors).toEqual([]);
    const listed = jsonOutput<{ dag_id: string }[]>(await home.airflow(["dags", "list", "--output", "json"]));
    dagIds = listed.map((d) => d.dag_id).sort();
    expect(dagIds.length, "Airflow lists the build's DAGs").toBeGreaterThan(0);
  }, 12 * 60_000);

  it("(6) `airflow dags test` runs each DAG: the steps run from the build folder and write both assets", async () => {
    expect(home, "step (5) must have set Airflow up").toBeDefined();
    for (const id of dagIds) {
      const log = await home!.airflow(["dags", "test", id], 6 * 60_000);
      expect(log, `DAG ${id}`).not.toMatch(/state=failed|DagRunState\.FAILED/);
    }
    const records = storedRecords(join(app, ".baton", "airflow-storage"));
    expect(records["orders"]?.rowCount).toBe(5);
    expect(records["customer_totals"]?.rowCount).toBe(3);
  }, 10 * 60_000);
});
