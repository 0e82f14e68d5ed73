// Regenerates src/fixtures/expected.ts from the embedded executor. Run only when fixture data
// deliberately changes; the diff of expected.ts is then part of the review.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalIOStore, loadDefinitions, materialize } from "@baton/core";
import { fixtureModulePath } from "../dist/fixtures/path.js";

const root = mkdtempSync(join(tmpdir(), "baton-golden-"));
const store = new LocalIOStore(join(root, "storage"));
const env = { ...process.env, FIXTURE_API_URL: "x", FIXTURE_API_TOKEN: "y", FIXTURE_AUDIT_DIR: join(root, "audit"), FIXTURE_LANDING_DIR: join(root, "landing") };
const defs = await loadDefinitions(fixtureModulePath());
const runs = [
  { selection: "group:sales", except: [] },
  { selection: "web/events daily_event_counts", partitionRange: { start: "2024-01-01", end: "2024-01-07" } },
  { selection: "weekly_event_counts", partition: "2024-01-01" },
  { selection: "events_summary" },
  { selection: "flaky" },
];
for (const p of ["eu", "us", "apac"]) runs.push({ selection: "regional_sales", partition: p });
const out = {};
for (const r of runs) {
  const result = await materialize(defs, { ...r, store, env, sleep: async () => {} });
  for (const [id, a] of Object.entries(result.assets)) {
    if (a.status !== "success") throw new Error(`${id} failed: ${a.error?.message}`);
    for (const m of a.materializations) {
      if (m.metadata.contentHash === null) continue;
      out[m.partitionKey === null ? id : `${id}[${m.partitionKey}]`] = { rowCount: m.metadata.rowCount, contentHash: m.metadata.contentHash };
    }
  }
}
const file = new URL("../src/fixtures/expected.ts", import.meta.url);
const text = readFileSync(file, "utf8");
const body = Object.keys(out)
  .sort()
  .map((k) => `  ${JSON.stringify(k)}: { rowCount: ${out[k].rowCount}, contentHash: ${JSON.stringify(out[k].contentHash)} },`)
  .join("\n");
writeFileSync(file, text.replace(/export const EXPECTED_OUTPUTS[^]*$/, `export const EXPECTED_OUTPUTS: Readonly<Record<string, ExpectedOutput>> = {\n${body}\n};\n`));
console.log(`wrote ${Object.keys(out).length} golden outputs`);
