import type { MaterializeResult } from "../executor/materialize.js";
import type { StepEvent } from "../step/events.js";
import { userFrameOf } from "../source.js";

/** One line per asset as it starts and finishes, then a summary; what a person watches. */
export function progressPrinter(write: (line: string) => void): (e: StepEvent) => void {
  const starts = new Map<string, number>();
  const label = (asset: string, partitionKey: string | null) => (partitionKey === null ? asset : `${asset} [${partitionKey}]`);
  return (e) => {
    switch (e.type) {
      case "asset_start":
        starts.set(label(e.asset, e.partitionKey), performance.now());
        write(`▶ ${label(e.asset, e.partitionKey)}`);
        break;
      case "materialization": {
        const l = label(e.asset, e.partitionKey);
        const ms = performance.now() - (starts.get(l) ?? performance.now());
        write(`✔ ${l}  ${fmtMs(ms)}${e.metadata.rowCount !== null ? `  ${e.metadata.rowCount.toLocaleString("en-US")} rows` : ""}`);
        break;
      }
      case "check":
        write(`  ${e.passed ? "✔" : e.severity === "warn" ? "⚠" : "✘"} check ${e.check}${e.description ? `: ${e.description}` : ""}`);
        break;
      case "asset_failure": {
        // A crash in the user's code (not a Baton error, which names its file) says where it happened.
        const at = userFrameOf(e.error);
        write(`✘ ${label(e.asset, e.partitionKey)}  ${e.error.message.split("\n").join("\n    ")}${at ? `\n    at ${at}` : ""}`);
        break;
      }
      case "asset_skipped":
        write(`– ${e.asset} skipped: ${e.reason}`);
        break;
      case "log":
        if (e.level !== "debug") write(`  ${e.level === "info" ? "" : `${e.level}: `}${e.message}`);
        break;
      default:
    }
  };
}

export function summary(result: MaterializeResult): string {
  const counts = { success: 0, failure: 0, skipped: 0 };
  let rows = 0;
  for (const a of Object.values(result.assets)) {
    counts[a.status]++;
    for (const m of a.materializations) rows += m.metadata.rowCount ?? 0;
  }
  const retried = Object.values(result.assets).filter((a) => a.attempts > 1).length;
  // Standalone checks' steps (CHECKS-CONTRACT.md §3): a failed one fails the run without failing an asset.
  const checkSteps = result.checkSteps ?? [];
  const failedChecks = checkSteps.filter((c) => c.status === "failure").map((c) => `${c.asset}:${c.check}`);
  const checks = checkSteps.length ? `; ${checkSteps.length} check step${checkSteps.length > 1 ? "s" : ""}${failedChecks.length ? `, failed: ${failedChecks.join(", ")}` : ""}` : "";
  return `${result.status === "success" ? "✔ run succeeded" : "✘ run failed"} (${result.runId}) in ${fmtMs(result.durationMs)}: ${counts.success} succeeded, ${counts.failure} failed, ${counts.skipped} skipped${retried ? `, ${retried} retried` : ""}; ${rows.toLocaleString("en-US")} rows written${checks}`;
}

/** `baton check`'s last line: the verdicts, and the assets whose stored output could not be checked. */
export function checksSummary(result: MaterializeResult): string {
  const verdicts = Object.values(result.assets).flatMap((a) => a.checks);
  const failed = verdicts.filter((c) => !c.passed && c.severity === "error").length;
  const warned = verdicts.filter((c) => !c.passed && c.severity !== "error").length;
  const unchecked = Object.values(result.assets).filter((a) => a.status === "failure" && a.error?.code !== "CHECK_FAILED").length;
  return `${result.status === "success" ? "✔ checks passed" : "✘ checks failed"} (${result.runId}) in ${fmtMs(result.durationMs)}: ${verdicts.length - failed - warned} passed, ${failed} failed, ${warned} warned${unchecked ? `; ${unchecked} asset${unchecked > 1 ? "s" : ""} could not be checked` : ""}; nothing written`;
}

export function fmtMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)}s` : `${ms.toFixed(0)}ms`;
}
