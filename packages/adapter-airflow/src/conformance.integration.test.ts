import { CAPABILITIES, describeConformance } from "@baton/testing";
import { airflowHarness } from "./__tests__/harness.js";

// Every case against real Airflow 3: dag.test() runs, read back from Airflow's metadata DB (DAG-run and
// task-instance states, asset events, XComs), its timetables and Variables; cancellation is a SIGTERM to
// the process running the task. Timeouts: core's limit fails the task first (execution_timeout is the
// backstop); tick logs: the sensor task's log, at each line's level, is in the tick's record.
describeConformance("airflow", airflowHarness(), { capabilities: CAPABILITIES, timeoutMs: 600_000 });
