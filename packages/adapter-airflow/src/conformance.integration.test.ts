import { CAPABILITIES, describeConformance } from "@baton/testing";
import { airflowHarness } from "./__tests__/harness.js";

// Every case against real Airflow 3 (dag.test() runs, Airflow's DB, timetables and Variables).
describeConformance("airflow", airflowHarness(), { capabilities: CAPABILITIES, timeoutMs: 600_000 });
