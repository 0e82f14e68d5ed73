import { fileURLToPath } from "node:url";

/**
 * `baton_core`, the orchestrator-neutral Python (manifest, partition rules, step launch) that
 * core ships and every adapter copies next to its own module in the projects it generates.
 */
export const corePythonModuleDir = fileURLToPath(new URL("../python/baton_core/", import.meta.url));
