export { buildAirflowDags, translationProblems, pythonModuleDir, DAG_FILE, BATON_DIR, MODULE_DIR, CORE_MODULE_DIR, type BuildAirflowOptions, type BuildAirflowResult } from "./build.js";
export { mappingProblems, type AirflowResourceMapping, type AirflowResourceSource, type AirflowOptionsFile } from "./options.js";
export { ACCEPTED_MANIFEST_VERSIONS, assertManifestVersion } from "./versions.js";
export { airflowId, assetUri, dagIdsFor } from "./ids.js";
