import { CAPABILITIES, describeConformance } from "@baton/testing";
import { dagsterHarness } from "./__tests__/dagster-harness.js";

// Every case, through real Dagster: materializations by execute_in_process on the emitted code
// location (steps in Node through Pipes), schedule and sensor ticks evaluated by Dagster.
describeConformance("dagster", dagsterHarness(), { capabilities: CAPABILITIES, timeoutMs: 240_000 });
