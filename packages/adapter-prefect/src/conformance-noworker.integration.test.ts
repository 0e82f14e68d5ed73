import { describeConformance } from "@baton/testing";
import { PREFECT_CAPABILITIES, prefectHarness } from "./__tests__/prefect/harness.js";
import { prefectServerPerFile } from "./__tests__/prefect/server-per-file.js";

/*
 * The whole conformance suite with the warm step worker off (BATON_WORKER=off in the process that
 * runs the flows): every task run starts its own Node process, as before issue 13. The same
 * records must come out as with the worker on (prefect.integration.test.ts, the default).
 */
const { python, server } = prefectServerPerFile("baton-prefect-noworker-server-");

describeConformance("prefect-noworker", prefectHarness({ python, server, flowName: "baton-conformance-noworker", name: "prefect-noworker", env: { BATON_WORKER: "off" } }), {
  capabilities: PREFECT_CAPABILITIES,
  timeoutMs: 300_000,
});
