// Prints every runtime's conformance report side by side (case × runtime), with each case's capability
// and a closing pass/fail/n/a line per runtime. Each runtime runs the suite twice, on a local folder and
// on an s3:// store (moto); the "-s3" report is its own column, next to the runtime's local one. An
// orchestrator's local run has the warm step worker on (the default, issue 13) and its s3 run has it off
// (BATON_WORKER=off), so the suite runs both ways without a third run; a "worker" line says which is which.
// Cases are the union over the reports, in suite order, so a report written by an older suite (or a
// storage-specific case) shows "-" where it did not run.
//
// Exit 1 (CI fails) when an expected runtime's report is missing, or a report has a failed, not-run or
// n/a case, or lacks a case another report on the same kind of store ran, or does not declare one of the
// suite's capabilities (CAPABILITIES of packages/testing as built, e.g. metadata and standaloneChecks of
// issue 14, icebergOutput of issue 16): every runtime must declare every capability (until issue 12, "n/a" — a capability the runtime
// did not declare — passed).
// The expected runtimes are EXPECTED below; `--expect a,b,…` replaces them (a local run of one package).
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

// The suite's capabilities, from @baton/testing as built (scripts/test.sh builds before it runs this).
const harnessModule = fileURLToPath(new URL("../packages/testing/dist/suite/harness.js", import.meta.url));
if (!existsSync(harnessModule)) {
  console.error(`conformance matrix: ${harnessModule} is missing; build @baton/testing first (pnpm exec turbo run build --filter @baton/testing...)`);
  process.exit(1);
}
const { CAPABILITIES } = await import(harnessModule);

const RUNTIMES = ["embedded", "dagster", "airflow", "prefect"];
/** The orchestrators start steps through the warm worker (issue 13); the embedded executor runs them in-process. */
const ORCHESTRATORS = ["dagster", "airflow", "prefect"];
const EXPECTED = RUNTIMES.flatMap((r) => [r, `${r}-s3`]);

const args = process.argv.slice(2);
const expectAt = args.indexOf("--expect");
const expected = expectAt >= 0 ? (args.splice(expectAt, 2)[1] ?? "").split(",").filter(Boolean) : EXPECTED;
const dir = args[0] ?? ".baton/conformance";

const found = existsSync(dir)
  ? readdirSync(dir)
      .filter((f) => /^conformance-report\..+\.json$/.test(f))
      .map((f) => JSON.parse(readFileSync(join(dir, f), "utf8")))
  : [];
// Expected runtimes first, in their order (each local run beside its s3 run), then any others by name.
const rank = (r) => (expected.includes(r.runtime) ? expected.indexOf(r.runtime) : expected.length);
const reports = found.sort((a, b) => rank(a) - rank(b) || a.runtime.localeCompare(b.runtime));
const problems = expected.filter((name) => !reports.some((r) => r.runtime === name)).map((name) => `no conformance report for ${name} (conformance-report.${name}.json in ${dir})`);
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
const width = Math.max(...cases.map((c) => c.length), 21);
const capWidth = Math.max(...[...capability.values()].map((c) => c.length), 10);
const cols = reports.map((r) => Math.max(r.runtime.length, 9));
const row = (name, cap, cells) => `${name.padEnd(width)}  ${cap.padEnd(capWidth)}  ${cells.map((c, i) => c.padEnd(cols[i])).join(" ")}`;
console.log(`\n${row("case", "capability", reports.map((r) => r.runtime))}`);
for (const name of cases) console.log(row(name, capability.get(name), reports.map((r) => r.cases.find((c) => c.case === name)?.result ?? "-")));
const count = (r, k) => r.cases.filter((c) => c.result === k).length;
console.log(row("total (pass/fail/n/a)", "", reports.map((r) => `${count(r, "pass")}/${count(r, "fail")}/${count(r, "n/a")}`)));

// The same case must have the same result on both stores: list where a runtime's s3 run differs.
for (const local of reports) {
  const s3 = reports.find((r) => r.runtime === `${local.runtime}-s3`);
  if (!s3) continue;
  const differ = local.cases.filter((c) => {
    const other = s3.cases.find((o) => o.case === c.case);
    return other !== undefined && other.result !== c.result;
  });
  console.log(`${local.runtime} vs ${s3.runtime}: ${differ.length === 0 ? "same result in every shared case" : `${differ.length} case(s) differ: ${differ.map((c) => c.case).join("; ")}`}`);
}

// Which runs started their steps through the warm worker: a report may say so itself ("worker"); else an
// orchestrator's local run has it on and its s3 run off (its conformance-s3 file sets BATON_WORKER=off), and
// the embedded executor has none. The "vs" lines above are therefore also worker on vs off.
const worker = (r) => r.worker ?? (ORCHESTRATORS.includes(r.runtime) ? "on" : ORCHESTRATORS.includes(r.runtime.replace(/-s3$/, "")) ? "off" : "n/a");
const byWorker = (state) => reports.filter((r) => worker(r) === state).map((r) => r.runtime);
console.log(`worker: on in ${byWorker("on").join(", ") || "none"}; off (BATON_WORKER=off) in ${byWorker("off").join(", ") || "none"}; none (in-process) in ${byWorker("n/a").join(", ") || "none"}`);

// What the Iceberg cases cost each run: their cases' time plus the servers the suite started for them (moto on a local
// run, the REST catalog on both; a report names them in serversStartMs).
const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;
for (const r of reports) {
  const cases = r.cases.filter((c) => c.capability === "icebergOutput" && c.ms !== undefined);
  if (cases.length === 0) continue;
  const servers = Object.entries(r.serversStartMs ?? {}).filter(([what]) => what === "icebergCatalog" || (what === "moto" && (r.storage ?? "local") === "local"));
  const total = cases.reduce((t, c) => t + c.ms, 0) + servers.reduce((t, [, ms]) => t + ms, 0);
  console.log(`${r.runtime}: iceberg cases ${seconds(cases.reduce((t, c) => t + c.ms, 0))}${servers.map(([what, ms]) => ` + ${what} start ${seconds(ms)}`).join("")} = ${seconds(total)}`);
}

// Every capability of the suite, declared by every runtime: a runtime that leaves one out (a newer suite's
// capability its harness does not know yet) fails even if its report has no case of it.
for (const r of reports) {
  const undeclared = CAPABILITIES.filter((c) => !(r.capabilities ?? []).includes(c));
  console.log(`${r.runtime}: ${CAPABILITIES.length - undeclared.length}/${CAPABILITIES.length} capabilities declared${undeclared.length > 0 ? `; not declared: ${undeclared.join(", ")}` : ""}`);
  if (undeclared.length > 0) problems.push(`${r.runtime}: does not declare capability ${undeclared.join(", ")} (every runtime declares all of: ${CAPABILITIES.join(", ")})`);
}

for (const r of reports) {
  const bad = r.cases.filter((c) => c.result === "fail" || c.result === "not run" || c.result === "n/a");
  if (bad.length > 0) problems.push(`${r.runtime}: ${bad.length} case(s) failed, did not run or were not declared (n/a): ${bad.map((c) => `${c.case} (${c.result}${c.result === "n/a" ? `: declare capability ${c.capability}` : ""})`).join("; ")}`);
  // A report written by an older suite (or one that dropped cases) lacks what others on its store ran.
  const storage = r.storage ?? "local";
  const peers = reports.filter((o) => (o.storage ?? "local") === storage);
  const missing = [...new Set(peers.flatMap((o) => o.cases.map((c) => c.case)))].filter((name) => !r.cases.some((c) => c.case === name));
  if (missing.length > 0) problems.push(`${r.runtime}: ${missing.length} case(s) that other ${storage} runs have are missing from its report (an older suite?): ${missing.join("; ")}`);
}
if (problems.length > 0) {
  console.error(`\nconformance matrix: ${problems.length} problem(s)\n${problems.map((p) => `- ${p}`).join("\n")}`);
  process.exit(1);
}
