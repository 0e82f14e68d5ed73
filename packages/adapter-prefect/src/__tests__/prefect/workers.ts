import { readdirSync, readFileSync } from "node:fs";
import { processAlive, waitFor } from "@baton/testing";

/**
 * The warm step workers serving sockets under `dir` (a test's BATON_WORKER_DIR): processes whose
 * command is `node <stepEntry> worker --socket <dir>/...` (core's WORKER-CONTRACT.md), from /proc.
 */
export function workerPids(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
    } catch {
      continue; // it ended meanwhile
    }
    const socket = argv[argv.indexOf("--socket") + 1];
    if (argv.includes("worker") && socket !== undefined && argv.indexOf("--socket") > 0 && socket.startsWith(`${dir}/`) && processAlive(Number(entry))) pids.push(Number(entry));
  }
  return pids.sort((a, b) => a - b);
}

/** Stop the workers a test file started (they would otherwise idle for BATON_WORKER_IDLE_SECONDS). */
export async function stopWorkers(dir: string): Promise<void> {
  const pids = workerPids(dir);
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGTERM");
    } catch {
      // already gone
    }
  }
  await waitFor(() => pids.every((p) => !processAlive(p)), { what: `the workers ${pids.join(", ")} of ${dir} to stop`, timeoutMs: 30_000 });
}
