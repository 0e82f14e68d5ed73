import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts"],
    // The suite gives each case its own deadline; this one covers any other test on a loaded machine.
    testTimeout: 180_000,
  },
});
