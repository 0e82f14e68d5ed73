// The "./cli" entry core's `baton airflow …` loads: the adapter, nothing else (core runs the CLI).
export { adapter } from "./adapter.js";
