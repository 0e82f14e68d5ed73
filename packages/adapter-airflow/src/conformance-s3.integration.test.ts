import { CAPABILITIES, describeConformance } from "@baton/testing";
import { airflowHarness } from "./__tests__/harness.js";

// The whole suite with the store on S3 (moto, started by the suite): the steps get the bucket's
// credentials from an Airflow AWS connection (option storageConnection), and every case must give
// the same golden hashes as on a local folder. The warm step worker is off here (BATON_WORKER=off: each
// step its own Node process, as before issue 13); conformance.integration.test.ts runs the suite with it on,
// the default, and the matrix shows the two runs agree case by case.
describeConformance("airflow-s3", airflowHarness({ env: { BATON_WORKER: "off" } }), { capabilities: CAPABILITIES, storage: "s3", timeoutMs: 600_000 });
