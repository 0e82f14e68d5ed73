import { statSync } from "node:fs";
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
import type { StepIO } from "./io.js";

/**
 * `baton-step`'s body, once per step: in its own process (step/bin.ts) or in a warm worker
 * (WORKER-CONTRACT.md). Events go to `io.out` as prefixed JSON lines, written synchronously so
 * nothing is lost if the process is killed after an event.
 *
 *   baton-step run    --manifest M --asset ID [--asset ID…] [--partition K | --partition-range A...B] --run-id R [--retry N]
 *   baton-step check  --manifest M --asset ID [--asset ID…] [--check NAME…] [--partition K | --partition-range A...B] --run-id R
 *                     (the checks alone, against the stored outputs: EXECUTION-CONTRACT.md §5)
 *   baton-step sensor --manifest M --name NAME [--cursor C] [--now ISO]
 *   baton-step schedule --manifest M --name NAME --at ISO
 *   baton-step worker --socket S [--idle-seconds N] [--max-rss-mb N]   (serve steps warm: worker/server.ts)
 *
 * Exit codes: 0 the step printed step_end success; 1 failure a retry may fix (a thrown error, a
 * failed teardown or import, a step that ended early); 3 deterministic failure (see
 * DETERMINISTIC_CODES, a bad manifest, a module whose hash differs from the manifest's, or usage); 143 / 130 cancelled by SIGTERM / SIGINT.
 */
const USAGE = "usage: baton-step run|check|sensor|schedule|worker --manifest M ...";

/** The manifest's code versions of the selected assets (the bundle's compute text may differ from tsx's). */
function manifestCodeVersions(manifest: Manifest, ids: readonly string[]): Record<string, string | null> {
  const selected = new Set(ids);
  return Object.fromEntries(manifest.assets.filter((a) => selected.has(a.id)).map((a) => [a.id, a.codeVersion]));
}

/** Every secret value the manifest's resources read from this environment, known before any user code runs. */
function manifestSecrets(manifest: Manifest, environment: Readonly<Record<string, string | undefined>>): string[] {
  return manifest.resources.flatMap((r) => r.config.filter((c) => c.secret).map((c) => environment[c.env] ?? "")).filter((v) => v !== "");
}

/**
 * The watchdog for a step with a timed asset (none otherwise: a thread costs its start). At the
 * deadline plus grace it writes the attempt's TIMEOUT failure and step_end as event lines, since
 * this process, its event loop blocked, cannot (EXECUTION-CONTRACT.md §1).
 */
function watchdogFor(defs: Definitions, selected: readonly string[], since: number, io: StepIO): TimeoutWatchdog | undefined {
  // By id, not a pass over every asset: a warm worker serving one step per asset of a 100,000-asset graph.
  // An unknown id is runStep's to report, with its hint.
  const timed = (id: string) => {
    try {
      return defs.asset(id).timeoutSeconds !== undefined;
    } catch {
      return false;
    }
  };
  if (!selected.some(timed)) return undefined;
  return startWatchdog({
    io,
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

interface Loaded {
  readonly manifest: Manifest;
  readonly stamp: string;
}
const manifests = new Map<string, Loaded>();
const definitionsCache = new Map<string, Promise<Definitions>>();

/** "mtime:size" of a file, or "" when it cannot be statted. */
function stampOf(path: string): string {
  try {
    const s = statSync(path);
    return `${s.mtimeMs}:${s.size}`;
  } catch {
    return "";
  }
}

/**
 * The manifest, read and its module verified once per (path, mtime, size) of both files: a warm
 * worker's second step re-hashes nothing. A one-off process reads it once anyway.
 */
function loadManifest(manifestPath: string): Manifest {
  const cached = manifests.get(manifestPath);
  if (cached) {
    const modulePath = resolve(dirname(manifestPath), cached.manifest.runtime.module);
    if (cached.stamp === `${stampOf(manifestPath)}|${stampOf(modulePath)}`) return cached.manifest;
  }
  const manifest = readManifest(manifestPath, ACCEPTED_MANIFEST_VERSIONS, "baton-step", { schema: false });
  verifyModule(manifest, manifestPath);
  const modulePath = resolve(dirname(manifestPath), manifest.runtime.module);
  manifests.set(manifestPath, { manifest, stamp: `${stampOf(manifestPath)}|${stampOf(modulePath)}` });
  return manifest;
}

/** The definitions, imported once per module and export in this process (a warm worker's import-once). */
function definitionsOf(modulePath: string, exportName: string): Promise<Definitions> {
  const key = `${modulePath}\0${exportName}`;
  let defs = definitionsCache.get(key);
  if (!defs) {
    defs = loadDefinitions(modulePath, exportName);
    // A failed import is not kept: the next step tries again (as a new process would).
    defs.catch(() => definitionsCache.delete(key));
    definitionsCache.set(key, defs);
  }
  return defs;
}

/** `baton-step`'s StepMain: one run, check, sensor or schedule command; returns its exit code. */
export async function stepMain(argv: readonly string[], io: StepIO): Promise<number> {
  const started = performance.now();
  const write = (e: StepEvent) => io.out(encodeEvent(e));
  let guard: StepGuard | undefined;
  let redact: (text: string) => string = (t) => t;
  let releaseOutput: () => void = () => undefined;
  try {
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
    const manifest = loadManifest(manifestPath);
    applyBuildStorage(dirname(manifestPath));
    redact = redactorOf([...manifestSecrets(manifest, process.env), ...storageSecrets(process.env)]);
    releaseOutput = redactProcessOutput(redact);
    // Watching starts before the definitions are imported: an import that never settles is caught too.
    if (step) guard = guardStep({ assets: values.asset ?? [], write, redact, host: io.host, stderr: io.err });
    const defs = await definitionsOf(resolve(dirname(manifestPath), manifest.runtime.module), manifest.runtime.export);
    if (step) {
      const g = guard!;
      const watchdog = watchdogFor(defs, values.asset ?? [], started, io);
      try {
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
          codeVersions: manifestCodeVersions(manifest, values.asset ?? []),
        });
        g.release();
        return g.exitCode(result);
      } finally {
        // A one-off process just exits; a warm worker's next step must not inherit the thread.
        if (io.warm) void watchdog?.stop();
      }
    }
    await writeTick(defs, tickRequest(command, values), io.out);
    return 0;
  } catch (e) {
    // Failures before or around the step (bad manifest, unknown asset, import) still reach the orchestrator.
    guard?.release();
    const error = redactError(serializeError(e), redact);
    write({ type: "asset_failure", asset: "", partitionKey: null, error });
    if (guard) write({ type: "step_end", status: "failure", retryable: error.retryable, durationMs: performance.now() - started, error });
    io.err(`baton-step: ${error.message}\n`);
    return isRetryable(e) ? 1 : 3;
  } finally {
    releaseOutput();
  }
}
