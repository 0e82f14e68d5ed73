/**
 * The warm step workers a test started (packages/core/WORKER-CONTRACT.md): each runs in a session of
 * its own and outlives the Dagster processes that started it, so a test stops the workers of its own
 * BATON_WORKER_DIR when it ends. A worker is found by its command line (`… worker --socket <dir>/…`).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { processAlive, waitFor } from "@baton/testing";

/** The pids of the workers serving sockets in `dir`. */
export function workerPids(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let argv: string[];
    try {
      argv = readFileSync(join("/proc", entry, "cmdline"), "utf8").split("\0");
    } catch {
      continue; // gone meanwhile
    }
    const at = argv.indexOf("--socket");
    if (argv.includes("worker") && at >= 0 && argv[at + 1]?.startsWith(`${dir}/`)) pids.push(Number(entry));
  }
  return pids;
}

/** SIGKILL every worker of `dir` and wait until they are gone. */
export async function stopWorkers(dir: string): Promise<void> {
  const pids = workerPids(dir);
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  await waitFor(() => pids.every((pid) => !processAlive(pid)), { timeoutMs: 30_000, what: `the warm workers of ${dir} to exit` });
}
