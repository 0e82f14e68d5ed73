import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import { prefectEnv } from "./env.js";
import { startPrefectServer, type PrefectServer } from "./server.js";

/**
 * One real Prefect server for the calling test file (start-up is slow on two cores), from the pinned
 * virtual environment, stopped after the file. Nothing skips: no uv, no PyPI or no server fails.
 */
export function prefectServerPerFile(prefix: string): { python: () => string; server: () => PrefectServer } {
  let server: PrefectServer | undefined;
  let python = "";
  const dir = mkdtempSync(join(tmpdir(), prefix));
  beforeAll(async () => {
    python = prefectEnv().python;
    server = await startPrefectServer({ prefect: join(dirname(python), "prefect"), dir });
  }, 600_000);
  afterAll(async () => {
    await server?.stop();
  }, 120_000);
  return {
    python: () => python,
    server: () => {
      if (!server) throw new Error("the Prefect server of this test file has not started");
      return server;
    },
  };
}
