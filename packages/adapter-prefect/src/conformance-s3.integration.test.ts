import { describeConformance } from "@baton/testing";
import { PREFECT_CAPABILITIES, prefectHarness } from "./__tests__/prefect/harness.js";
import { prefectServerPerFile } from "./__tests__/prefect/server-per-file.js";

/*
 * The whole conformance suite on an s3:// store (moto, started by the suite) through a real Prefect
 * 3.9.1 server, with the golden hashes of the local run. The S3 credentials reach the steps only
 * through a Prefect Secret block (--storage-secret): the harness removes every AWS_* variable from
 * the process that runs the flows. The warm step worker is off here (BATON_WORKER=off: one Node process
 * per task run, as before issue 13); prefect.integration.test.ts runs the suite with it on, the default,
 * and the matrix shows the two runs agree case by case.
 */
const { python, server } = prefectServerPerFile("baton-prefect-s3-server-");


describeConformance("prefect-s3", prefectHarness({ python, server, flowName: "baton-conformance-s3", env: { BATON_WORKER: "off" } }), {
  capabilities: PREFECT_CAPABILITIES,
  storage: "s3",
  timeoutMs: 300_000,
});
