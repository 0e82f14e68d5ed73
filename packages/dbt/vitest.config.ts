import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts"],
    // Real dbt on a busy 2-core machine: one start costs seconds of CPU.
    testTimeout: 180_000,
    hookTimeout: 300_000,
  },
});
