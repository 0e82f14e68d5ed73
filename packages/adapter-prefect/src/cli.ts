/** The "./cli" entry core's `baton prefect …` loads: the adapter, nothing else. */
export { adapter } from "./adapter.js";
