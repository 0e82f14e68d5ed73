import { readdirSync, readFileSync } from "node:fs";
import { processAlive } from "./process.js";
import { waitFor } from "./wait.js";

/**
 * The warm step workers serving sockets under `dir` (a test's BATON_WORKER_DIR), found from /proc by
 * their command line, `node <stepEntry> worker --socket <dir>/…` (core's WORKER-CONTRACT.md). Each runs
 * in a session of its own and outlives the orchestrator that started it, so a test stops its own.
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
    const at = argv.indexOf("--socket");
    if (at > 0 && argv.includes("worker") && argv[at + 1]?.startsWith(`${dir}/`) && processAlive(Number(entry))) pids.push(Number(entry));
  }
  return pids.sort((a, b) => a - b);
}

function signal(pids: readonly number[], name: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, name);
    } catch {
      // already gone
    }
  }
}

/**
 * Stop the workers of `dir` (they would otherwise idle for BATON_WORKER_IDLE_SECONDS): SIGTERM, which a
 * worker honours at once when idle and by cancelling its step otherwise, then SIGKILL whatever is left.
 */
export async function stopWorkers(dir: string): Promise<void> {
  const pids = workerPids(dir);
  if (pids.length === 0) return;
  signal(pids, "SIGTERM");
  const gone = () => pids.every((p) => !processAlive(p));
  try {
    await waitFor(gone, { what: `the warm workers ${pids.join(", ")} of ${dir} to stop on SIGTERM`, timeoutMs: 15_000 });
  } catch {
    signal(pids.filter(processAlive), "SIGKILL");
    await waitFor(gone, { what: `the warm workers ${pids.join(", ")} of ${dir} to die on SIGKILL`, timeoutMs: 30_000 });
  }
}
