import { CAPABILITIES, describeConformance } from "@baton/testing";
import { airflowHarness } from "./__tests__/harness.js";

// The whole suite with the store on S3 (moto, started by the suite): the steps get the bucket's
// credentials from an Airflow AWS connection (option storageConnection), and every case must give
// the same golden hashes as on a local folder.
describeConformance("airflow-s3", airflowHarness(), { capabilities: CAPABILITIES, storage: "s3", timeoutMs: 600_000 });
