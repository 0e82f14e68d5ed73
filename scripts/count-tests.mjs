// Sums vitest's per-package "Tests" lines from a turbo log into the one closing line CI reads.
import { readFileSync } from "node:fs";

// Colour codes are control characters by definition: strip them before reading the counts.
// eslint-disable-next-line no-control-regex
const log = readFileSync(process.argv[2], "utf8").replace(/\x1b\[[0-9;]*m/g, "");
let passed = 0;
let failed = 0;
let skipped = 0;
for (const line of log.split("\n")) {
  const m = /Tests\s+(.*)\(\d+\)\s*$/.exec(line);
  if (!m) continue;
  for (const [, n, what] of m[1].matchAll(/(\d+) (passed|failed|skipped)/g)) {
    if (what === "passed") passed += Number(n);
    else if (what === "failed") failed += Number(n);
    else skipped += Number(n);
  }
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
