import { CAPABILITIES, describeConformance } from "@baton/testing";
import { airflowHarness } from "./__tests__/harness.js";

// The whole suite with the warm step worker off (BATON_WORKER=off in the environment of the Airflow
// process that runs the tasks): every step is a Node process of its own, as before issue 13, and every
// case must give the same records and golden hashes as with the worker on (conformance.integration.test.ts).
describeConformance("airflow-noworker", airflowHarness({ env: { BATON_WORKER: "off" } }), { capabilities: CAPABILITIES, timeoutMs: 600_000 });
