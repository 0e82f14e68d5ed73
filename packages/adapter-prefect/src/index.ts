export { adapter, prefectWheel } from "./adapter.js";
export { deploymentSpecs, sensorTargetName, MATERIALIZE_DEPLOYMENT, type DeploymentSpec, type DeploymentSchedule } from "./deployments.js";
export { resolvePrefectOptions, type PrefectOptions } from "./options.js";
export { prefectProblems } from "./problems.js";
export { prefectPlan } from "./plan.js";
export { resourceProblems, type PrefectResourceMapping, type PrefectResources, type PrefectValueSource } from "./resources.js";
export { PREFECT_VERSION } from "./versions.js";
