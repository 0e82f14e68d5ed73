#!/usr/bin/env node
/**
 * `baton-dagster-step`: the process the Dagster code location starts.
 *
 *   baton-dagster-step run      --manifest M                       (what to run comes from Dagster Pipes)
 *   baton-dagster-step sensor   --manifest M --name N [--cursor C] [--now ISO]
 *   baton-dagster-step schedule --manifest M --name N --at ISO
 *   baton-dagster-step worker   --socket S [--idle-seconds N] [--max-rss-mb N]
 *
 * Sensor and schedule ticks print each of the sensor's log calls as a `log` event line at once, then one
 * `@@baton:event {"type":"tick",...}` line: core's writeTick, as in `baton-step`.
 * `run` exits 0 (success), 1 (a failure a retry may fix), 3 (deterministic: never retried) or 143
 * (cancelled by SIGTERM), and stops at once if the process that launched it dies. Every command
 * first checks that the definitions module is the one the build hashed (exit 3 if not).
 * `worker` serves these same commands warm, one step at a time, over a Unix socket (core's
 * `runStepEntry`, packages/core/WORKER-CONTRACT.md): baton_dagster.step starts it on demand.
 */
import { dirname, resolve } from "node:path";
import { parseArgs } from "node:util";
import { isRetryable, loadDefinitions, verifyModule } from "@baton/core";
import { encodeEvent, runStepEntry, serializeError, tickRequest, writeTick, type StepMain } from "@baton/core/step";
import { runDagsterStep } from "./step.js";
import { readStepManifest } from "./versions.js";

/** One command, in this process or on a warm worker's connection: everything it prints goes to `io`. */
export const main: StepMain = async (argv, io) => {
  try {
    const [command, ...rest] = argv;
    const { values } = parseArgs({
      args: [...rest],
      options: { manifest: { type: "string" }, name: { type: "string" }, cursor: { type: "string" }, now: { type: "string" }, at: { type: "string" } },
    });
    if (!values.manifest) throw new Error("--manifest is required");
    // The step's environment is process.env: the worker sets it per step, wholesale.
    if (command === "run") return await runDagsterStep({ manifestPath: values.manifest, io });
    if (command !== "sensor" && command !== "schedule") throw new Error(`unknown command "${command ?? ""}": use run, sensor, schedule or worker`);
    const manifestPath = resolve(values.manifest);
    const manifest = readStepManifest(manifestPath);
    verifyModule(manifest, manifestPath);
    const defs = await loadDefinitions(resolve(dirname(manifestPath), manifest.runtime.module), manifest.runtime.export);
    await writeTick(defs, tickRequest(command, values), (line) => io.out(line));
    return 0;
  } catch (e) {
    io.out(encodeEvent({ type: "asset_failure", asset: "", partitionKey: null, error: serializeError(e) }));
    io.err(`baton-dagster-step: ${(e as Error).message ?? String(e)}\n`);
    // A deterministic error (a module that changed since the build, a bad manifest) exits 3;
    // anything else may pass on a retry (CONTRACT-v2: exit 2 is not used).
    return isRetryable(e) ? 1 : 3;
  }
};

runStepEntry(main, { name: "baton-dagster-step" });
