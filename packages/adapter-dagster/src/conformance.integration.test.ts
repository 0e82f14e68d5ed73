import { CAPABILITIES, describeConformance } from "@baton/testing";
import { dagsterHarness } from "./__tests__/dagster-harness.js";

// Every case, through real Dagster, v2 capabilities included (truth, secrets, cancellation, dst,
// retryClasses, hostileKeys, scheduleEnd): materializations by execute_in_process on the emitted
// code location (steps in Node through Pipes), a cancelled run by SIGTERM to `dagster asset
// materialize`, schedule and sensor ticks evaluated by Dagster. The harness reads the run back
// from Dagster's own records: run status, STEP_* events, ASSET_MATERIALIZATION and
// ASSET_CHECK_EVALUATION events, every event of the run and its compute logs as text.
describeConformance("dagster", dagsterHarness(), { capabilities: CAPABILITIES, timeoutMs: 240_000 });
