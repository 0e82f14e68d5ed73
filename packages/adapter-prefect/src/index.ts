export { buildPrefectProject, pythonModuleDir, MANIFEST_FILE, PYTHON_PACKAGE, CORE_PYTHON_PACKAGE, type BuildPrefectProjectOptions, type PrefectProject } from "./build.js";
export { deploymentSpecs, sensorTargetName, MATERIALIZE_DEPLOYMENT, type DeploymentSpec } from "./deployments.js";
export { checkResources, type PrefectResourceMapping, type PrefectResources, type PrefectValueSource } from "./resources.js";
export { ACCEPTED_MANIFEST_VERSIONS, PREFECT_VERSION, assertManifestVersion } from "./versions.js";
export { run as runCli } from "./cli.js";
