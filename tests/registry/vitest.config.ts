import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    // One file at a time: each copies the workspace and runs builds or packs on a 2-core machine.
    fileParallelism: false,
  },
});
