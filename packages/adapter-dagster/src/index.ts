/** `@baton/adapter-dagster`: Baton definitions as a Dagster code location run through Dagster Pipes. */
export { buildDagsterProject, dagsterStepEntryPath, pythonModuleDir, type BuildDagsterProjectOptions, type DagsterProject } from "./build.js";
export { dagsterProblems } from "./translate.js";
export { runDagsterStep, requestFromPipes, PipesReporter, RANGE_EXTRA, SUMMARY_ENV_VAR, type DagsterStepOptions, type StepRequest, type StepSummary } from "./step.js";
export { ACCEPTED_MANIFEST_VERSIONS } from "./versions.js";
