import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts"],
    testTimeout: 30_000,
    // Each integration file starts its own Prefect server, and most of a file's time is spent
    // waiting on it: two files at once took the suite from 1,372 s to 1,037 s on 2 cores, at load 12.
    maxWorkers: 2,
  },
});
