import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 600_000,
    // Each integration file runs its own Airflow; two at once would fight over 2 cores.
    fileParallelism: false,
  },
});
