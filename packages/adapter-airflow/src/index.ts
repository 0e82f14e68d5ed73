export { adapter, airflowPythonWheel, AIRFLOW_REQUIREMENTS } from "./adapter.js";
export { DAG_FILE, DAG_FILE_TEXT, IGNORE_FILE, IGNORE_TEXT } from "./emit.js";
export { translationProblems, MAX_ID_LENGTH } from "./problems.js";
export { airflowPlan } from "./plan.js";
export { mappingProblems, resolveAirflowOptions, type AirflowOptions, type AirflowResourceMapping, type AirflowResourceSource } from "./options.js";
export { airflowId, assetUri, dagIdsFor, assetsDagId, scheduleDagId, sensorDagId, DEFAULT_DAG_ID_PREFIX } from "./ids.js";
