/** `@baton/adapter-dagster`: Baton definitions as a Dagster code location run through Dagster Pipes. */
export { adapter, dagsterWheel } from "./adapter.js";
export { dagsterProblems, ownerProblem, partitionKeyProblem } from "./translate.js";
export { dagsterPlan, planBuckets } from "./plan.js";
export { moduleName, projectFiles, DAGSTER_PINS, DG_PIN } from "./project.js";
export { runDagsterStep, requestFromPipes, PipesReporter, RANGE_EXTRA, SUMMARY_ENV_VAR, type DagsterStepOptions, type StepRequest, type StepSummary } from "./step.js";
