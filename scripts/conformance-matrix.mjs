// Prints every runtime's conformance report side by side (case × runtime).
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const dir = process.argv[2] ?? ".baton/conformance";
const reports = existsSync(dir)
  ? readdirSync(dir)
      .filter((f) => /^conformance-report\..+\.json$/.test(f))
      .sort()
      .map((f) => JSON.parse(readFileSync(join(dir, f), "utf8")))
  : [];
if (reports.length === 0) {
  console.error(`no conformance reports in ${dir}`);
  process.exit(1);
}
const cases = reports[0].cases.map((c) => c.case);
const width = Math.max(...cases.map((c) => c.length));
console.log(`\n${"case".padEnd(width)}  ${reports.map((r) => r.runtime.padEnd(9)).join(" ")}`);
for (const name of cases) {
  console.log(`${name.padEnd(width)}  ${reports.map((r) => (r.cases.find((c) => c.case === name)?.result ?? "-").padEnd(9)).join(" ")}`);
}
