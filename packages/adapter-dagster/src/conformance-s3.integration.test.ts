import { CAPABILITIES, describeConformance } from "@baton/testing";
import { dagsterHarness } from "./__tests__/dagster-harness.js";

// The whole suite through real Dagster again, with BATON_STORAGE=s3://… on a moto server the suite
// starts: the Node steps store and read every output in the bucket (the same golden hashes), the
// AWS secret key never appears in Dagster's records or compute logs, and nothing lands in a folder.
// With the warm step worker off (BATON_WORKER=off): each step is its own Node process, as before
// issue 13, so the suite runs both ways (conformance.integration.test.ts has the worker on, the default)
// and the matrix shows the two runs agree case by case.
describeConformance("dagster-s3", dagsterHarness({ env: { BATON_WORKER: "off" } }), { capabilities: CAPABILITIES, timeoutMs: 240_000, storage: "s3" });
