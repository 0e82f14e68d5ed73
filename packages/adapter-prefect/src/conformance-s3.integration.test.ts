import { CAPABILITIES, type Capability, describeConformance } from "@baton/testing";
import { prefectHarness } from "./__tests__/prefect/harness.js";
import { prefectServerPerFile } from "./__tests__/prefect/server-per-file.js";

/*
 * The whole conformance suite on an s3:// store (moto, started by the suite) through a real Prefect
 * 3.9.1 server, with the golden hashes of the local run. The S3 credentials reach the steps only
 * through a Prefect Secret block (--storage-secret): the harness removes every AWS_* variable from
 * the process that runs the flows.
 */
const { python, server } = prefectServerPerFile("baton-prefect-s3-server-");

const PREFECT_CAPABILITIES = [
  "materialize", "arrow", "sideEffects", "resources", "partitions", "partitionRanges", "partitionMappings", "staticPartitions",
  "retries", "failures", "checks", "schedules", "sensors",
  "truth", "secrets", "cancellation", "dst", "retryClasses", "hostileKeys", "scheduleEnd",
] as const satisfies readonly Capability[];
if (PREFECT_CAPABILITIES.length !== CAPABILITIES.length) throw new Error(`declare every capability for Prefect on S3, or say why not: ${CAPABILITIES.filter((c) => !(PREFECT_CAPABILITIES as readonly Capability[]).includes(c)).join(", ")}`);

describeConformance("prefect-s3", prefectHarness({ python, server, flowName: "baton-conformance-s3" }), {
  capabilities: PREFECT_CAPABILITIES,
  storage: "s3",
  timeoutMs: 300_000,
});
