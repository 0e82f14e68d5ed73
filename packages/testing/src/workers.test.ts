import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { processAlive } from "./process.js";
import { waitFor } from "./wait.js";
import { stopWorkers, workerPids } from "./workers.js";

const dir = mkdtempSync(join(tmpdir(), "baton-workers-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A process with a worker's command line (`… worker --socket <dir>/…`); `ignoreTerm` makes it outlive SIGTERM. */
async function fakeWorker(socketDir: string, ignoreTerm = false): Promise<number> {
  const body = `${ignoreTerm ? "process.on('SIGTERM', () => {});" : ""} setInterval(() => {}, 1000); console.log("ready");`;
  const child = spawn(process.execPath, ["-e", body, "entry.js", "worker", "--socket", join(socketDir, "k.0.sock")], { stdio: ["ignore", "pipe", "ignore"] });
  let out = "";
  child.stdout.on("data", (c: Buffer) => (out += c.toString()));
  // Its SIGTERM handler is in place once it printed: only then is "ignores SIGTERM" true.
  await waitFor(() => out.includes("ready"), { what: `fake worker ${child.pid} to start`, timeoutMs: 30_000 });
  return child.pid!;
}

describe("workerPids / stopWorkers", () => {
  it("finds only the workers of its folder, and stops them (SIGKILL for one that ignores SIGTERM)", async () => {
    const other = mkdtempSync(join(tmpdir(), "baton-workers-other-"));
    const mine = [await fakeWorker(dir), await fakeWorker(dir, true)];
    const theirs = await fakeWorker(other);
    try {
      await waitFor(() => workerPids(dir).length === 2, { what: "the two fake workers to show in /proc", timeoutMs: 30_000 });
      expect(workerPids(dir)).toEqual([...mine].sort((a, b) => a - b));
      const started = Date.now();
      await stopWorkers(dir);
      expect(mine.every((p) => !processAlive(p))).toBe(true);
      // The one ignoring SIGTERM was killed only after the SIGTERM grace (15 s): it did outlive SIGTERM.
      expect(Date.now() - started).toBeGreaterThanOrEqual(15_000);
      expect(processAlive(theirs)).toBe(true);
    } finally {
      process.kill(theirs, "SIGKILL");
      rmSync(other, { recursive: true, force: true });
    }
  }, 90_000);
});
