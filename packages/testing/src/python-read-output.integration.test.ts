import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import pl from "nodejs-polars";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { contentHash, loadDefinitions, materialize, openStore, type Definitions, type IOStore } from "@baton/core";
import { corePythonWheel } from "@baton/core/build";
import { startMoto, type MotoServer } from "./moto.js";
import { ensurePythonEnv, type PythonEnv } from "./python-env.js";

// Node writes the example's outputs with the embedded executor; a Python process reads them back
// with baton_core.read_output (the installed baton-core wheel, polars and s3fs from their pins),
// from a local folder and from a moto bucket. Python hands each frame back as Parquet, and Node
// checks rows, columns and types against what it stored, and the content hash against the record.

const REPO = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const EXAMPLE = join(REPO, "examples", "customer-metrics", "src", "definitions.ts");
const READ_PINS = join(REPO, "packages", "core", "python", "requirements-s3.txt");
const DAYS = ["2024-01-02", "2024-01-03"];
const OUTPUTS: readonly { key: string[]; partition: string | null }[] = [
  { key: ["orders"], partition: null },
  { key: ["customers"], partition: null },
  { key: ["customer_metrics"], partition: null },
  ...DAYS.map((day) => ({ key: ["daily_revenue"], partition: day })),
  // Arrow IPC as nodejs-polars writes it, under a key and partition that need encoding.
  { key: ["node", "orders ipc"], partition: "eu/west" },
];

// One Python process reads every output of a job; it prints one JSON line per read. Then it
// writes copies with baton_core.testing.write_output, for Node to read back (the other direction).
const READER = `
import json, os, sys
import baton_core
from baton_core import read_output, read_outputs, read_record
from baton_core.testing import write_output
job = json.loads(sys.argv[1])
for read in job["reads"]:
    key = read["key"] if read["asList"] else "/".join(read["key"])
    try:
        frame = read_output(key, read["partition"])
    except baton_core.MissingOutputError as e:
        print(json.dumps({"missing": str(e)}), flush=True)
        continue
    frame.write_parquet(read["out"])
    print(json.dumps({
        "height": frame.height,
        "columns": frame.columns,
        "record": read_record(key, read["partition"]),
    }), flush=True)
if "many" in job:
    many = job["many"]
    read_outputs(many["key"], many["partitions"]).write_parquet(many["out"])
for copy in job.get("copies", []):
    frame = read_output(copy["from"], copy["partition"]).head(5)
    write_output(os.environ["BATON_STORAGE"], copy["to"], frame, copy["partition"], run_id="python")
`;

interface Answer {
  readonly height?: number;
  readonly columns?: string[];
  readonly record?: Record<string, unknown>;
  readonly missing?: string;
}

let python: PythonEnv;
let defs: Definitions;
let moto: MotoServer | undefined;
const scratch = mkdtempSync(join(tmpdir(), "baton-py-read-"));

beforeAll(async () => {
  python = ensurePythonEnv({ name: "baton-read", requirements: READ_PINS, wheels: [corePythonWheel()] });
  defs = await loadDefinitions(EXAMPLE);
  moto = await startMoto();
}, 900_000);

afterAll(async () => {
  await moto?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

/** The example's tables and two days of daily_revenue, committed by the embedded executor. */
async function writeExample(store: IOStore, env: Record<string, string | undefined>): Promise<void> {
  const tables = await materialize(defs, { selection: "orders customers customer_metrics", store, env, runId: "py-read-1" });
  expect(tables.status, JSON.stringify(tables.failure)).toBe("success");
  const days = await materialize(defs, { selection: "daily_revenue", partitionRange: { start: DAYS[0]!, end: DAYS.at(-1)! }, store, env, runId: "py-read-2" });
  expect(days.status, JSON.stringify(days.failure)).toBe("success");
  expect(days.assets.daily_revenue!.materializations.map((m) => m.partitionKey)).toEqual(DAYS);
  const { frame } = await store.read(["orders"], undefined);
  await store.write({ key: ["node", "orders ipc"], partitionKey: "eu/west", frame, producedAs: "polars", format: "ipc", codeVersion: undefined, runId: "py-read-2" });
}

/** Runs the Python reader with BATON_STORAGE and the given variables; its answers in read order. */
interface Copy {
  readonly from: string;
  readonly to: string[];
  readonly partition: string | null;
}

function readInPython(
  name: string,
  env: Record<string, string>,
  reads: readonly { key: string[]; partition: string | null; asList?: boolean }[],
  extra: { copies?: readonly Copy[]; many?: { key: string; partitions: string[] } } = {},
): { answers: Answer[]; files: string[]; many: string } {
  const files = reads.map((_, i) => join(scratch, `${name}-${i}.parquet`));
  const many = join(scratch, `${name}-many.parquet`);
  const job = {
    reads: reads.map((r, i) => ({ key: r.key, partition: r.partition, asList: r.asList ?? false, out: files[i] })),
    copies: extra.copies ?? [],
    ...(extra.many ? { many: { ...extra.many, out: many } } : {}),
  };
  const stdout = execFileSync(python.python, ["-c", READER, JSON.stringify(job)], { env: { ...process.env, ...env }, encoding: "utf8", timeout: 300_000 });
  return { answers: stdout.trim().split("\n").map((line) => JSON.parse(line) as Answer), files, many };
}

async function expectSameRows(store: IOStore, env: Record<string, string>, name: string): Promise<void> {
  const copies: Copy[] = [
    { from: "customer_metrics", to: ["python", "top metrics"], partition: null },
    { from: "daily_revenue", to: ["python", "revenue"], partition: DAYS[0]! },
  ];
  const reads = OUTPUTS.map((o, i) => ({ ...o, asList: i % 2 === 1 }));
  const { answers, files, many } = readInPython(name, env, reads, { copies, many: { key: "daily_revenue", partitions: [...DAYS].reverse() } });
  expect(answers).toHaveLength(OUTPUTS.length);
  for (const [i, output] of OUTPUTS.entries()) {
    const { frame: written, record } = await store.read(output.key, output.partition ?? undefined);
    const answer = answers[i]!;
    const shown = `${output.key.join("/")} ${output.partition ?? "(unpartitioned)"}`;
    expect(answer.missing, shown).toBeUndefined();
    expect(answer.height, shown).toBe(written.height);
    expect(answer.columns, shown).toEqual(written.columns);
    expect(answer.record, shown).toEqual(record);
    const read = pl.readParquet(readFileSync(files[i]!));
    expect(read.dtypes.map(String), shown).toEqual(written.dtypes.map(String));
    expect(read.frameEqual(written), shown).toBe(true);
    // The rows Python read hash to what Node recorded when it committed them.
    expect(contentHash(read), shown).toBe(record.contentHash);
  }
  expect(answers[0]!.height).toBe(10_000);
  expect(answers.map((a) => a.record!.format)).toEqual([...OUTPUTS.slice(0, -1).map(() => "parquet"), "ipc"]);
  expect(new Set(OUTPUTS.map((_, i) => answers[i]!.record!.runId))).toEqual(new Set(["py-read-1", "py-read-2"]));
  // read_outputs: the days concatenated in the order asked, as core's readMany does.
  const { frame: days } = await store.readMany(["daily_revenue"], [...DAYS].reverse());
  expect(pl.readParquet(readFileSync(many)).frameEqual(days)).toBe(true);
  expect(days.getColumn("day").toArray()).toEqual([...DAYS].reverse());
  // What Python's test builder commits, Node's store reads: the same folders and record.
  for (const copy of copies) {
    const { frame: source } = await store.read([copy.from], copy.partition ?? undefined);
    const { frame, record } = await store.read(copy.to, copy.partition ?? undefined);
    expect(frame.frameEqual(source.head(5)), copy.to.join("/")).toBe(true);
    expect(record).toMatchObject({ assetKey: copy.to.join("/"), partitionKey: copy.partition, rowCount: Math.min(5, source.height), runId: "python" });
  }
  // A partition Node never wrote is missing for Python too, not another day's rows.
  const [missing] = readInPython(`${name}-missing`, env, [{ key: ["daily_revenue"], partition: "2024-01-20" }]).answers;
  expect(missing!.missing).toMatch(/"daily_revenue" partition "2024-01-20" has not been materialized/);
}

describe("Python reads what Node wrote: baton_core.read_output", () => {
  it("from a local store", async () => {
    const root = join(scratch, "local-store");
    const env = { BATON_STORAGE: root };
    const store = openStore(root, env);
    await writeExample(store, { ...process.env, ...env });
    await expectSameRows(store, env, "local");
  }, 600_000);

  it("from an s3:// store on moto", async () => {
    const url = moto!.storageUrl(`py-read-${Date.now()}`);
    const env = { ...moto!.env, BATON_STORAGE: url };
    const store = openStore(url, env);
    await writeExample(store, { ...process.env, ...env });
    const records = (await store.listFiles()).filter((f) => f.endsWith("record.json"));
    expect(records.sort()).toEqual(
      [
        "customer_metrics/__unpartitioned__/record.json",
        "customers/__unpartitioned__/record.json",
        ...DAYS.map((day) => `daily_revenue/${day}/record.json`),
        "node/orders%20ipc/eu%2Fwest/record.json",
        "orders/__unpartitioned__/record.json",
      ].sort(),
    );
    await expectSameRows(store, env, "s3");
  }, 600_000);
});
