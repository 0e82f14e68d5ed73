export interface ReportRow {
  readonly case: string;
  readonly capability: string;
  readonly result: "pass" | "fail" | "n/a" | "not run";
  readonly ms?: number;
  readonly error?: string;
}

/** A plain table, so reports from several runtimes can be read side by side. */
export function formatReport(runtime: string, rows: readonly ReportRow[]): string {
  const width = Math.max(...rows.map((r) => r.case.length), 4);
  const lines = [`conformance report: ${runtime}`, `${"case".padEnd(width)}  ${"capability".padEnd(18)}  result    ms`];
  for (const r of rows) lines.push(`${r.case.padEnd(width)}  ${r.capability.padEnd(18)}  ${r.result.padEnd(8)}  ${r.ms ?? ""}${r.error ? `  ${r.error}` : ""}`);
  const count = (k: ReportRow["result"]) => rows.filter((r) => r.result === k).length;
  lines.push(`${count("pass")} pass, ${count("fail")} fail, ${count("n/a")} n/a, ${count("not run")} not run`);
  return lines.join("\n");
}

/** Merge several runtimes' JSON reports into one case × runtime table. */
export function formatMatrix(reports: readonly { runtime: string; cases: readonly ReportRow[] }[]): string {
  // The union of the reports' cases, in suite order: a report from an older suite shows "-" for new cases.
  const names = [...new Set([...reports].sort((a, b) => b.cases.length - a.cases.length).flatMap((r) => r.cases.map((c) => c.case)))];
  const width = Math.max(...names.map((n) => n.length), 4);
  const header = `${"case".padEnd(width)}  ${reports.map((r) => r.runtime.padEnd(9)).join("  ")}`;
  const body = names.map((n) => `${n.padEnd(width)}  ${reports.map((r) => (r.cases.find((c) => c.case === n)?.result ?? "-").padEnd(9)).join("  ")}`);
  return [header, ...body].join("\n");
}
