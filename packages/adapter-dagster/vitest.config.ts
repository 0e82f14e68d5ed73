import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts"],
    testTimeout: 30_000,
    // Integration files each start Dagster; two at once is what a 2-core machine affords.
    maxWorkers: 2,
  },
});
