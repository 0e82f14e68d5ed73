export { describeConformance, makeHarnessEnvironment, type ConformanceOptions } from "./suite/describe.js";
export { CASES, type ConformanceCase, type CaseContext } from "./suite/cases.js";
export { CAPABILITIES, type Capability, type HarnessEnvironment, type HarnessMaterialization, type HarnessRun, type HarnessTick, type MaterializeRequest, type RuntimeHarness } from "./suite/harness.js";
export { formatReport, formatMatrix, type ReportRow } from "./suite/report.js";
export { embeddedHarness } from "./embedded.js";
export { ensurePythonEnv, type PythonEnv } from "./python-env.js";
export { waitFor, DEFAULT_WAIT_MS, type WaitForOptions } from "./wait.js";
export { controlFile, startedMarker } from "./fixtures/control.js";
