import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts"],
    testTimeout: 30_000,
    // Integration files each start Dagster; two at once is what a 2-core machine affords.
    maxWorkers: 2,
    // Warm step workers outlive the Dagster processes that start them (sessions of their own): in
    // tests they idle out after 30 s, not 300, so the ones a file leaves do not hold memory for long.
    // Tests that need them longer (worker.integration.test.ts) or stop them (the harness) say so.
    env: { BATON_WORKER_IDLE_SECONDS: "30" },
  },
});
