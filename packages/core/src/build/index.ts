/** `@baton/core/build`: the adapter contract and the build runner core's CLI uses (adapters' tests too). */
export type * from "./contract.js";
export { buildTarget, requirementsText, wheelPin, type BuildResult, type BuildTargetOptions, type ProjectInput } from "./runner.js";
export { planTarget, renderPlan, type PlanResult } from "./plan.js";
export { parseTargetArgs, rawTargetOptions, camelCase, UsageError, type ParsedTargetArgs } from "./options.js";
export { checkStorage } from "./storage.js";
export { BUILD_MARKER } from "./output.js";
export { verifyModule } from "../step/verify.js";
export { ACCEPTED_MANIFEST_VERSIONS, MANIFEST_VERSION } from "../manifest/types.js";
export { corePythonWheel, shippedWheel } from "../python.js";
