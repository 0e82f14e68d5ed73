/** The adapter core's CLI loads for `baton dagster …` (see @baton/core/build). */
export { adapter } from "./adapter.js";
