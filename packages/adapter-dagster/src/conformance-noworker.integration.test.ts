import { CAPABILITIES, describeConformance } from "@baton/testing";
import { dagsterHarness } from "./__tests__/dagster-harness.js";

// The whole suite again with the warm worker off (BATON_WORKER=off): every Dagster step is its own
// Node process, as before issue 13. conformance.integration.test.ts runs it with the worker on (the
// default); both must give Dagster the same records.
describeConformance("dagster-noworker", dagsterHarness({ name: "dagster-noworker", env: { BATON_WORKER: "off" } }), { capabilities: CAPABILITIES, timeoutMs: 240_000 });
