// Prints every runtime's conformance report side by side (case × runtime), with each case's capability
// and a closing pass/fail/n/a line per runtime. Cases are the union over the reports, in suite order, so a
// report written by an older suite shows "-" for the cases it did not know.
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
const cases = [];
const capability = new Map();
for (const r of [...reports].sort((a, b) => b.cases.length - a.cases.length)) {
  for (const c of r.cases) {
    if (capability.has(c.case)) continue;
    capability.set(c.case, c.capability ?? "");
    cases.push(c.case);
  }
}
const width = Math.max(...cases.map((c) => c.length), 4);
const capWidth = Math.max(...[...capability.values()].map((c) => c.length), 10);
const cols = reports.map((r) => Math.max(r.runtime.length, 9));
const row = (name, cap, cells) => `${name.padEnd(width)}  ${cap.padEnd(capWidth)}  ${cells.map((c, i) => c.padEnd(cols[i])).join(" ")}`;
console.log(`\n${row("case", "capability", reports.map((r) => r.runtime))}`);
for (const name of cases) console.log(row(name, capability.get(name), reports.map((r) => r.cases.find((c) => c.case === name)?.result ?? "-")));
const count = (r, k) => r.cases.filter((c) => c.result === k).length;
console.log(row("total (pass/fail/n/a)", "", reports.map((r) => `${count(r, "pass")}/${count(r, "fail")}/${count(r, "n/a")}`)));
