#!/usr/bin/env node
import { writeSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parseArgs } from "node:util";
import { BatonError, isRetryable } from "../errors.js";
import { readManifest } from "../manifest/read.js";
import { ACCEPTED_MANIFEST_VERSIONS } from "../manifest/types.js";
import type { Manifest } from "../manifest/types.js";
import { loadDefinitions } from "../load.js";
import { runStep } from "./run.js";
import { encodeEvent } from "./protocol.js";
import { redactError, serializeError, type StepEvent } from "./events.js";
import { guardStep, type StepGuard } from "./guard.js";
import { exitWithParent } from "./parent.js";
import { verifyModule } from "./verify.js";
import { applyBuildStorage } from "./build-info.js";
import { redactProcessOutput } from "./output.js";
import { redactorOf } from "./resources.js";
import { storageSecrets } from "../io/open.js";
import { tickRequest, writeTick } from "./tick.js";
import { parseRange } from "../cli/args.js";
import { startWatchdog, WATCHDOG_GRACE_SECONDS, type TimeoutWatchdog } from "./watchdog.js";
import { timeoutError } from "./timeout.js";
import type { Definitions } from "../definitions.js";

/**
 * `baton-step`: what an orchestrator's Python shim launches. Events go to stdout as prefixed JSON
 * lines, written synchronously so nothing is lost if the process is killed after an event.
 *
 *   baton-step run    --manifest M --asset ID [--asset ID…] [--partition K | --partition-range A...B] --run-id R [--retry N]
 *   baton-step check  --manifest M --asset ID [--asset ID…] [--check NAME…] [--partition K | --partition-range A...B] --run-id R
 *                     (the checks alone, against the stored outputs: EXECUTION-CONTRACT.md §5)
 *   baton-step sensor --manifest M --name NAME [--cursor C] [--now ISO]
 *   baton-step schedule --manifest M --name NAME --at ISO
 *
 * Exit codes: 0 the step printed step_end success; 1 failure a retry may fix (a thrown error, a
 * failed teardown or import, a step that ended early); 3 deterministic failure (see
 * DETERMINISTIC_CODES, a bad manifest, a module whose hash differs from the manifest's, or usage); 143 / 130 cancelled by SIGTERM / SIGINT.
 */
const USAGE = "usage: baton-step run|check|sensor|schedule --manifest M ...";
const out = (line: string) => writeSync(1, line);
const write = (e: StepEvent) => out(encodeEvent(e));

let guard: StepGuard | undefined;
let redact: (text: string) => string = (t) => t;

/** Every secret value the manifest's resources read from this environment, known before any user code runs. */
function manifestSecrets(manifest: Manifest, environment: Readonly<Record<string, string | undefined>>): string[] {
  return manifest.resources.flatMap((r) => r.config.filter((c) => c.secret).map((c) => environment[c.env] ?? "")).filter((v) => v !== "");
}

const started = performance.now();

/**
 * The watchdog for a step with a timed asset (none otherwise: a thread costs its start). At the
 * deadline plus grace it writes the attempt's TIMEOUT failure and step_end as event lines, since
 * this process, its event loop blocked, cannot (EXECUTION-CONTRACT.md §1).
 */
function watchdogFor(defs: Definitions, selected: readonly string[], since: number): TimeoutWatchdog | undefined {
  const ids = new Set(selected);
  if (!defs.assets.some((a) => ids.has(a.id) && a.timeoutSeconds !== undefined)) return undefined;
  return startWatchdog({
    stdout: (a) => {
      const error = { ...serializeError(timeoutError(a.asset, a.timeoutSeconds, true)), stack: undefined };
      // The thread writes these at the deadline plus grace: the step's duration by then.
      const durationMs = performance.now() - since + (a.timeoutSeconds + WATCHDOG_GRACE_SECONDS) * 1000;
      return (
        encodeEvent({ type: "asset_failure", asset: a.asset, partitionKey: a.partitionKey, error }) +
        encodeEvent({ type: "step_end", status: "failure", retryable: true, durationMs, error })
      );
    },
  });
}

async function main(argv: string[]): Promise<number> {
  exitWithParent();
  const [command, ...rest] = argv;
  let values;
  try {
    ({ values } = parseArgs({
      args: rest,
      options: {
        manifest: { type: "string" },
        asset: { type: "string", multiple: true },
        check: { type: "string", multiple: true },
        partition: { type: "string" },
        "partition-range": { type: "string" },
        "run-id": { type: "string" },
        retry: { type: "string" },
        name: { type: "string" },
        cursor: { type: "string" },
        now: { type: "string" },
        at: { type: "string" },
      },
    }));
  } catch (e) {
    throw new BatonError("CONFIG", (e as Error).message, { hint: USAGE });
  }
  if (command !== "run" && command !== "check" && command !== "sensor" && command !== "schedule") {
    throw new BatonError("CONFIG", `unknown command "${command ?? ""}": use run, check, sensor or schedule`, { hint: USAGE });
  }
  const step = command === "run" || command === "check";
  if (!values.manifest) throw new BatonError("CONFIG", "--manifest is required", { hint: USAGE });
  const manifestPath = resolve(values.manifest);
  const manifest = readManifest(manifestPath, ACCEPTED_MANIFEST_VERSIONS, "baton-step", { schema: false });
  verifyModule(manifest, manifestPath);
  applyBuildStorage(dirname(manifestPath));
  redact = redactorOf([...manifestSecrets(manifest, process.env), ...storageSecrets(process.env)]);
  redactProcessOutput(redact);
  // Watching starts before the definitions are imported: an import that never settles is caught too.
  if (step) guard = guardStep({ assets: values.asset ?? [], write, redact });
  const defs = await loadDefinitions(resolve(dirname(manifestPath), manifest.runtime.module), manifest.runtime.export);
  if (step) {
    const g = guard!;
    const watchdog = watchdogFor(defs, values.asset ?? [], started);
    const result = await runStep({
      definitions: defs,
      assets: values.asset ?? [],
      partitionKey: values.partition,
      partitionRange: values["partition-range"] ? parseRange(values["partition-range"]) : undefined,
      runId: values["run-id"] ?? `adhoc-${Date.now()}`,
      retryNumber: Number(values.retry ?? 0),
      onEvent: g.onEvent,
      signal: g.signal,
      ...(watchdog ? { watchdog } : {}),
      ...(command === "check" ? { checksOnly: true } : {}),
      ...(values.check ? { checks: values.check } : {}),
    });
    g.release();
    return g.exitCode(result);
  }
  await writeTick(defs, tickRequest(command, values), out);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    // Failures before or around the step (bad manifest, unknown asset, import) still reach the orchestrator.
    guard?.release();
    const error = redactError(serializeError(e), redact);
    write({ type: "asset_failure", asset: "", partitionKey: null, error });
    if (guard) write({ type: "step_end", status: "failure", retryable: error.retryable, durationMs: performance.now(), error });
    process.stderr.write(`baton-step: ${error.message}\n`);
    process.exit(isRetryable(e) ? 1 : 3);
  },
);
