/**
 * Dagster Pipes over S3, against real Dagster and a real S3-API server: dagster-aws's
 * `PipesS3ContextInjector` puts the context in the bucket, `PipesS3MessageReader` reads the
 * messages back from chunk objects, and the Node side (`@baton/adapter-dagster/pipes`, built)
 * shares no file and no stdout with Dagster. The driver
 * (python/tests/pipes_s3/pipes_s3_e2e.py) writes what Dagster's own event log recorded.
 *
 * Dagster 1.13.28 and dagster-aws 0.29.27 come from python/requirements-pipes-s3.txt (installed with
 * itself as uv's override file: dagster-aws pins dagster 1.13.27); moto from @baton/testing.
 */
import { spawn, spawnSync } from "node:child_process";
import { deflateSync } from "node:zlib";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { corePythonWheel } from "@baton/core/build";
import { ensurePythonEnv, startMoto, type MotoServer, type PythonEnv } from "@baton/testing";
import { dagsterWheel } from "./adapter.js";
import { buildProject } from "./__tests__/dagster-harness.js";

const packageDir = fileURLToPath(new URL("../", import.meta.url));
const requirements = join(packageDir, "python", "requirements-pipes-s3.txt");
const driver = join(packageDir, "python", "tests", "pipes_s3", "pipes_s3_e2e.py");
const child = join(packageDir, "src", "pipes", "__tests__", "s3-child.mjs");
const batonFixture = join(packageDir, "src", "pipes", "__tests__", "s3-definitions.mjs");

interface Metadata {
  class: string;
  value: unknown;
}
interface ErrorInfo {
  message: string;
  cls_name: string | null;
  cause: ErrorInfo | null;
}
interface RunRecord {
  success: boolean;
  materializations: { asset_key: string[]; tags: Record<string, string>; metadata: Record<string, Metadata> }[];
  checks: { asset_key: string[]; check_name: string; passed: boolean; metadata: Record<string, Metadata> }[];
  logs: { level: number; message: string }[];
  pipes_events: { message: string; error: ErrorInfo | null }[];
  step_failures: (ErrorInfo | null)[];
}
interface SessionRecord {
  params: {
    DAGSTER_PIPES_CONTEXT: { bucket: string; key: string };
    DAGSTER_PIPES_MESSAGES: { bucket: string; key_prefix: string; include_stdio_in_messages: boolean };
  };
  context_present_during_run: boolean;
  context_left_after: string[];
  chunks: string[];
  chunk_bodies: string[];
  returncode: number;
  seen_while_running: boolean;
  received_closed: boolean;
  custom: unknown[];
}
interface Report {
  dagster_version: string;
  runs: Record<"orders" | "crash" | "failing" | "uncaught", RunRecord>;
  sessions: Record<"report" | "crash" | "failing" | "uncaught", SessionRecord>;
}
interface BatonReport {
  baton: Record<"s3/orders" | "s3/broken", RunRecord>;
  bucket_after: string[];
}

/**
 * The test venv, with the baton-core and baton-dagster wheels: requirements-pipes-s3.txt is also
 * uv's override file, so its dagster pin wins over dagster-aws's.
 */
function pipesS3Env(): PythonEnv {
  const previous = process.env.UV_OVERRIDE;
  process.env.UV_OVERRIDE = requirements;
  try {
    return ensurePythonEnv({ name: "dagster-pipes-s3", requirements, wheels: [corePythonWheel(), dagsterWheel()] });
  } finally {
    if (previous === undefined) delete process.env.UV_OVERRIDE;
    else process.env.UV_OVERRIDE = previous;
  }
}

function runDriver(python: string, args: string[], env: Record<string, string>, cwd?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const proc = spawn(python, [driver, ...args], { cwd, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    proc.stdout.setEncoding("utf8").on("data", (chunk: string) => (output = (output + chunk).slice(-20_000)));
    proc.stderr.setEncoding("utf8").on("data", (chunk: string) => (output = (output + chunk).slice(-20_000)));
    proc.on("error", reject);
    proc.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`${driver} exited with ${code}:\n${output}`))));
  });
}

let moto: MotoServer | undefined;
let root: string;
let report: Report;
let baton: BatonReport;

beforeAll(async () => {
  if (!existsSync(join(packageDir, "dist", "pipes", "s3-worker.js"))) {
    throw new Error("dist/pipes/s3-worker.js is missing: build the package first (pnpm --filter @baton/adapter-dagster build)");
  }
  const python = pipesS3Env().python;
  moto = await startMoto();
  root = mkdtempSync(join(tmpdir(), "baton-pipes-s3-"));
  const control = join(root, "control");
  mkdirSync(control);
  const env = { ...moto.env, BATON_TEST_BUCKET: moto.bucket, PIPES_S3_CONTROL: control, PIPES_S3_CHILD: child, BATON_NODE: process.execPath };
  const project = await buildProject(batonFixture, join(root, "project"));
  // Its own bucket, so the listing at its end sees only the Baton step's objects.
  const batonBucket = "baton-step";
  await moto.createBucket(batonBucket);
  const out = join(root, "report.json");
  const batonOut = join(root, "baton.json");
  // Both drivers at once: most of their time is Dagster's reader waiting on its poll interval.
  await Promise.all([
    runDriver(python, [out], env),
    runDriver(python, [batonOut, "--baton-project", project.outDir, project.module, "s3/orders", "s3/broken"], { ...env, BATON_TEST_BUCKET: batonBucket, BATON_STORAGE: join(root, "storage") }, project.outDir),
  ]);
  report = JSON.parse(readFileSync(out, "utf8")) as Report;
  baton = JSON.parse(readFileSync(batonOut, "utf8")) as BatonReport;
}, 600_000);

afterAll(async () => {
  await moto?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
}, 60_000);

describe("Dagster Pipes over S3 (PipesS3ContextInjector + PipesS3MessageReader → node)", () => {
  it("runs against dagster 1.13.28, with the params dagster-aws hands over", () => {
    expect(report.dagster_version).toBe("1.13.28");
    const { params } = report.sessions.report;
    expect(params.DAGSTER_PIPES_CONTEXT).toEqual({ bucket: moto!.bucket, key: expect.stringMatching(/^[A-Za-z]{30}\/context\.json$/) });
    expect(params.DAGSTER_PIPES_MESSAGES).toEqual({ bucket: moto!.bucket, key_prefix: expect.stringMatching(/^[A-Za-z]{30}$/), include_stdio_in_messages: false });
  });

  it("loads the context from the bucket (extras included) and Dagster deletes it afterwards", () => {
    const session = report.sessions.report;
    expect(session.context_present_during_run).toBe(true);
    expect(session.context_left_after).toEqual([]);
    expect(session.custom).toEqual([{ run: expect.any(String), extras: { greeting: "hello over s3" } }]);
  });

  it("records the materialization with Node's metadata, the check evaluation and the logs, from chunks 1, 2, … in order", () => {
    const run = report.runs.orders;
    expect(run.success).toBe(true);
    expect(run.materializations).toHaveLength(1);
    const [mat] = run.materializations;
    expect(mat!.asset_key).toEqual(["warehouse", "orders"]);
    expect(mat!.tags["dagster/data_version"]).toBe("s3-v1");
    expect(mat!.metadata["row_count"]).toEqual({ class: "IntMetadataValue", value: 42 });
    expect(mat!.metadata["label"]).toEqual({ class: "TextMetadataValue", value: "orders over s3" });
    expect(mat!.metadata["schema"]?.class).toBe("TableSchemaMetadataValue");
    expect(run.checks).toEqual([{ asset_key: ["warehouse", "orders"], check_name: "non_empty", passed: true, metadata: { rows: { class: "IntMetadataValue", value: 42 } } }]);
    const logs = run.logs.map((l) => l.message);
    expect(logs).toContain("[pipes] external process successfully opened dagster pipes.");
    expect(logs).toContain("materializing warehouse/orders through S3 (greeting: hello over s3)");
    expect(run.logs.find((l) => l.message === "after the first chunk")?.level).toBe(30);
    expect(logs.filter((m) => m.includes("did not receive"))).toEqual([]);

    const session = report.sessions.report;
    const prefix = session.params.DAGSTER_PIPES_MESSAGES.key_prefix;
    expect(session.chunks).toEqual(session.chunks.map((_, i) => `${prefix}/${i + 1}.json`));
    const lines = session.chunk_bodies.flatMap((body) => body.split("\n"));
    const methods = lines.map((line) => (JSON.parse(line) as { method: string }).method);
    expect(methods[0]).toBe("opened");
    expect(methods.at(-1)).toBe("closed");
    expect(methods).toEqual(["opened", "log", "report_asset_materialization", "report_asset_check", "log", "report_custom_message", "closed"]);
    expect(session.received_closed).toBe(true);
  });

  it("uploads on the interval: Dagster had the materialization while Node still ran, in an earlier chunk than `closed`", () => {
    const session = report.sessions.report;
    expect(session.seen_while_running).toBe(true);
    expect(session.chunks.length).toBeGreaterThanOrEqual(2);
    expect(session.chunk_bodies[0]).toContain('"report_asset_materialization"');
    expect(session.chunk_bodies.at(-1)).toContain('"closed"');
  });

  it("a process killed with SIGKILL loses only what was not uploaded yet", () => {
    const run = report.runs.crash;
    const session = report.sessions.crash;
    expect(session.returncode).toBe(-9);
    expect(session.seen_while_running).toBe(true);
    expect(session.received_closed).toBe(false);
    expect(run.success).toBe(false);
    expect(run.materializations.map((m) => m.metadata["before_crash"])).toEqual([{ class: "BoolMetadataValue", value: true }]);
    expect(run.logs.map((l) => l.message)).not.toContain("this message is lost with the process");
  });

  it("a failure reaches Dagster through the bucket: `closed` carries the error, and the step fails", () => {
    const run = report.runs.failing;
    const session = report.sessions.failing;
    expect(run.success).toBe(false);
    expect(run.materializations).toEqual([]);
    expect(session.returncode).toBe(1);
    // process.exit(1) came right after close(): the last chunk was uploaded before it returned.
    expect(session.received_closed).toBe(true);
    expect(run.logs.map((l) => l.message)).toContain("about to fail");
    const closed = run.pipes_events.find((e) => e.message === "[pipes] external process pipes closed with exception");
    expect(closed?.error).toMatchObject({ cls_name: "Error", message: "Error: the S3 step failed on purpose\n", cause: { message: "Error: root cause\n" } });
    expect(run.step_failures).toHaveLength(1);
    expect(run.step_failures[0]?.message).toContain("the Node process exited with 1");
  });

  it("an uncaught exception: the exit hook closes the context and uploads `closed` from the process's exit event", () => {
    const run = report.runs.uncaught;
    const session = report.sessions.uncaught;
    expect(session.returncode).toBe(1);
    expect(session.received_closed).toBe(true);
    expect(run.success).toBe(false);
    expect(run.logs.map((l) => l.message)).toContain("about to throw outside any try");
    const closed = run.pipes_events.find((e) => e.message === "[pipes] external process pipes closed with exception");
    expect(closed?.error).toMatchObject({ cls_name: "Error", message: "Error: uncaught over s3\n" });
  });
});

describe("the Baton Node step with its Pipes client switched to S3", () => {
  it("materializes with the step's metadata, its check and its log, all read from the bucket", () => {
    const run = baton.baton["s3/orders"];
    expect(run.success).toBe(true);
    expect(run.materializations).toHaveLength(1);
    const [mat] = run.materializations;
    expect(mat!.asset_key).toEqual(["s3", "orders"]);
    expect(mat!.metadata["dagster/row_count"]).toEqual({ class: "IntMetadataValue", value: 3 });
    expect(mat!.metadata["dagster/column_schema"]?.class).toBe("TableSchemaMetadataValue");
    expect(mat!.metadata["baton/content_hash"]?.class).toBe("TextMetadataValue");
    expect(mat!.tags["dagster/data_version"]).toMatch(/^[0-9a-f]{16,}$/);
    expect(run.checks).toMatchObject([{ asset_key: ["s3", "orders"], check_name: "has_rows", passed: true }]);
    const logs = run.logs.map((l) => l.message);
    expect(logs).toContain("[pipes] external process successfully opened dagster pipes.");
    expect(logs.some((m) => m.includes("orders computed by the Baton step"))).toBe(true);
    expect(logs.filter((m) => m.includes("did not receive"))).toEqual([]);
  });

  it("a failing asset: the step's error reaches Dagster through the bucket and fails the step", () => {
    const run = baton.baton["s3/broken"];
    expect(run.success).toBe(false);
    expect(run.materializations).toEqual([]);
    const closed = run.pipes_events.find((e) => e.message === "[pipes] external process pipes closed with exception");
    expect(closed?.error?.message).toContain("broken on purpose, reported through S3");
    expect(run.logs.some((l) => l.level === 40 && l.message.includes("broken on purpose, reported through S3"))).toBe(true);
    expect(run.step_failures).toHaveLength(1);
    expect(run.step_failures[0]?.message).toContain("broken on purpose, reported through S3");
  });

  it("leaves only message chunks in the bucket (Dagster deleted each context object)", () => {
    expect(baton.bucket_after.filter((k) => k.endsWith("context.json"))).toEqual([]);
    expect(baton.bucket_after.length).toBeGreaterThan(0);
    for (const key of baton.bucket_after) expect(key).toMatch(/^[A-Za-z]{30}\/\d+\.json$/);
  });
});

describe("the S3 client of the built package, directly", () => {
  it("names the object and S3's answer when the context object does not exist", async () => {
    const { PipesS3Bridge } = (await import(join(packageDir, "dist", "pipes", "index.js"))) as typeof import("./pipes/index.js");
    const bridge = new PipesS3Bridge({ env: moto!.env });
    try {
      expect(() => bridge.getObjectText(moto!.bucket, "nowhere/context.json")).toThrow(
        `Could not read s3://${moto!.bucket}/nowhere/context.json: NoSuchKey`,
      );
    } finally {
      await bridge.terminate();
    }
  });

  it("without the SDK installed, opening fails with the command that installs it", () => {
    // The built pipes module where no node_modules can provide @aws-sdk/client-s3.
    const dir = join(root, "no-sdk");
    cpSync(join(packageDir, "dist", "pipes"), join(dir, "pipes"), { recursive: true, filter: (src) => !src.endsWith(".map") });
    writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module" }));
    const encode = (value: unknown) => deflateSync(Buffer.from(JSON.stringify(value))).toString("base64");
    const result = spawnSync(process.execPath, ["--input-type=module", "-e", `import("./pipes/index.js").then((p) => p.openDagsterPipes())`], {
      cwd: dir,
      env: { ...process.env, DAGSTER_PIPES_CONTEXT: encode({ bucket: "b", key: "k/context.json" }), DAGSTER_PIPES_MESSAGES: encode({ bucket: "b", key_prefix: "k" }) },
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain("Could not read s3://b/k/context.json");
    expect(result.stderr).toContain("pnpm add @aws-sdk/client-s3@3.1175.0");
  });
});
