// Sums the test counts of a run into the one closing line CI reads: vitest's per-package "Tests"
// lines from the turbo log, and pytest's summary lines ("106 passed in 0.96s") from the Python gate.
//   node scripts/count-tests.mjs VITEST_LOG [PYTEST_LOG]
import { readFileSync } from "node:fs";

// Colour codes are control characters by definition: strip them before reading the counts.
// eslint-disable-next-line no-control-regex
const read = (file) => readFileSync(file, "utf8").replace(/\x1b\[[0-9;]*m/g, "").split("\n");
const count = (lines, pattern) => {
  const total = { passed: 0, failed: 0, skipped: 0 };
  for (const line of lines) {
    const m = pattern.exec(line);
    if (!m) continue;
    for (const [, n, what] of m[1].matchAll(/(\d+) (passed|failed|errors?|skipped)/g)) total[what === "skipped" ? "skipped" : what === "passed" ? "passed" : "failed"] += Number(n);
  }
  return total;
};
const vitest = count(read(process.argv[2]), /Tests\s+(.*)\(\d+\)\s*$/);
const pytest = process.argv[3] ? count(read(process.argv[3]), /^=*\s*((?:\d+ (?:passed|failed|errors?|skipped)(?:, )?)+) in [\d.]+s\b/) : { passed: 0, failed: 0, skipped: 0 };
const passed = vitest.passed + pytest.passed;
const failed = vitest.failed + pytest.failed;
const skipped = vitest.skipped + pytest.skipped;
const split = process.argv[3] ? ` (vitest ${vitest.passed}, pytest ${pytest.passed})` : "";
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}${split}`);
process.exit(failed > 0 || vitest.passed === 0 || (process.argv[3] && pytest.passed === 0) ? 1 : 0);
