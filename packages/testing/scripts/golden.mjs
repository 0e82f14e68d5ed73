// Regenerates src/fixtures/expected.ts from the embedded executor. Run only when fixture data
// deliberately changes; the diff of expected.ts is then part of the review.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalIOStore, loadDefinitions, materialize } from "@baton/core";
import { fixtureModulePath } from "../dist/fixtures/path.js";
import { controlFile } from "../dist/fixtures/control.js";
import { ICEBERG_DAILY, ICEBERG_ORDERS } from "../dist/fixtures/expected.js";
import { startIcebergCatalog } from "../dist/iceberg-catalog.js";
import { startMoto } from "../dist/moto.js";

const root = mkdtempSync(join(tmpdir(), "baton-golden-"));
const store = new LocalIOStore(join(root, "storage"));
// The iceberg group writes to tables: a REST catalog of its own on moto, as a suite run has.
const moto = await startMoto();
const catalog = await startIcebergCatalog(moto);
const env = { ...process.env, ...catalog.env, FIXTURE_API_URL: "x", FIXTURE_API_TOKEN: "y", FIXTURE_AUDIT_DIR: join(root, "audit"), FIXTURE_LANDING_DIR: join(root, "landing"), FIXTURE_CONTROL_DIR: join(root, "control") };
// truth/sleeper returns at once when its release file exists.
mkdirSync(env.FIXTURE_CONTROL_DIR, { recursive: true });
writeFileSync(controlFile(env.FIXTURE_CONTROL_DIR, "truth/sleeper", "release"), "");
const defs = await loadDefinitions(fixtureModulePath());
const runs = [
  { selection: "group:sales", except: [] },
  { selection: "web/events daily_event_counts", partitionRange: { start: "2024-01-01", end: "2024-01-07" } },
  { selection: "weekly_event_counts", partition: "2024-01-01" },
  { selection: "events_summary" },
  { selection: "flaky" },
  // Truth fixtures whose output is written: the two that then fail on purpose are expected to.
  { selection: "truth/sibling_ok truth/sleeper" },
  { selection: "truth/strict", mayFail: ["truth/strict"] },
  { selection: "secrets/prints secrets/check_metadata" },
  { selection: "secrets/teardown_throws", mayFail: ["secrets/teardown_throws"] },
];
for (const p of ["eu", "us", "apac"]) runs.push({ selection: "regional_sales", partition: p });
runs.push({ selection: `${ICEBERG_ORDERS.asset} ${ICEBERG_ORDERS.downstream}` });
for (const p of ICEBERG_DAILY.days) runs.push({ selection: `${ICEBERG_DAILY.asset} ${ICEBERG_DAILY.downstream}`, partition: p });
const out = {};
try {
  for (const r of runs) {
    const { mayFail = [], ...options } = r;
    if (mayFail.length > 0) {
      // The output is committed before the failure (a check, a teardown): read it back from the store.
      await materialize(defs, { ...options, store, env, sleep: async () => {} }).catch(() => undefined);
      for (const id of mayFail) {
        const record = await store.readRecord(id.split("/"), undefined);
        if (record === undefined) throw new Error(`${id} wrote no output`);
        out[id] = { rowCount: record.rowCount, contentHash: record.contentHash };
      }
      continue;
    }
    const result = await materialize(defs, { ...options, store, env, sleep: async () => {} });
    for (const [id, a] of Object.entries(result.assets)) {
      if (a.status !== "success" && !mayFail.includes(id)) throw new Error(`${id} failed: ${a.error?.message}`);
      for (const m of a.materializations) {
        if (m.metadata.contentHash === null) continue;
        out[m.partitionKey === null ? id : `${id}[${m.partitionKey}]`] = { rowCount: m.metadata.rowCount, contentHash: m.metadata.contentHash };
      }
    }
  }
} finally {
  await catalog.stop();
  await moto.stop();
}
const file = new URL("../src/fixtures/expected.ts", import.meta.url);
const text = readFileSync(file, "utf8");
const body = Object.keys(out)
  .sort()
  .map((k) => `  ${JSON.stringify(k)}: { rowCount: ${out[k].rowCount}, contentHash: ${JSON.stringify(out[k].contentHash)} },`)
  .join("\n");
writeFileSync(file, text.replace(/export const EXPECTED_OUTPUTS[^]*$/, `export const EXPECTED_OUTPUTS: Readonly<Record<string, ExpectedOutput>> = {\n${body}\n};\n`));
console.log(`wrote ${Object.keys(out).length} golden outputs`);
