import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts"],
    // Integration tests wait on conditions with their own named deadlines (the driver's requests,
    // markers); this outer limit only has to be longer than those.
    testTimeout: 600_000,
    hookTimeout: 600_000,
    // Each integration file runs its own Airflow; two at once would fight over 2 cores.
    fileParallelism: false,
  },
});
