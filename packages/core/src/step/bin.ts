#!/usr/bin/env node
import { writeSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parseArgs } from "node:util";
import { readManifest } from "../manifest/read.js";
import { loadDefinitions } from "../load.js";
import { runStep } from "./run.js";
import { encodeEvent } from "./protocol.js";
import { serializeError } from "./events.js";
import { evaluateSensorTick, evaluateScheduleTick } from "../ticks.js";
import { parseRange } from "../cli/args.js";

/**
 * `baton-step`: what an orchestrator's Python shim launches. Events go to stdout as prefixed JSON
 * lines, written synchronously so nothing is lost if the process is killed after an event.
 *
 *   baton-step run    --manifest M --asset ID [--asset ID…] [--partition K | --partition-range A...B] --run-id R [--retry N]
 *   baton-step sensor --manifest M --name NAME [--cursor C] [--now ISO]
 *   baton-step schedule --manifest M --name NAME --at ISO
 */
const out = (line: string) => writeSync(1, line);

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      manifest: { type: "string" },
      asset: { type: "string", multiple: true },
      partition: { type: "string" },
      "partition-range": { type: "string" },
      "run-id": { type: "string" },
      retry: { type: "string" },
      name: { type: "string" },
      cursor: { type: "string" },
      now: { type: "string" },
      at: { type: "string" },
    },
  });
  if (!values.manifest) throw new Error("--manifest is required");
  const manifestPath = resolve(values.manifest);
  const manifest = readManifest(manifestPath, [1], "baton-step", { schema: false });
  const defs = await loadDefinitions(resolve(dirname(manifestPath), manifest.runtime.module), manifest.runtime.export);
  if (command === "run") {
    const result = await runStep({
      definitions: defs,
      assets: values.asset ?? [],
      partitionKey: values.partition,
      partitionRange: values["partition-range"] ? parseRange(values["partition-range"]) : undefined,
      runId: values["run-id"] ?? `adhoc-${Date.now()}`,
      retryNumber: Number(values.retry ?? 0),
      onEvent: (e) => out(encodeEvent(e)),
    });
    return result.status === "success" ? 0 : 1;
  }
  if (command === "sensor" || command === "schedule") {
    const now = values.now ? new Date(values.now) : new Date();
    const result =
      command === "sensor"
        ? await evaluateSensorTick(defs, values.name ?? "", { cursor: values.cursor ?? null, now })
        : evaluateScheduleTick(defs, values.name ?? "", values.at ? new Date(values.at) : now);
    out(encodeEvent({ type: "tick", result }));
    return 0;
  }
  throw new Error(`unknown command "${command ?? ""}": use run, sensor or schedule`);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    // Failures before or around the step (bad manifest, unknown asset) still reach the orchestrator.
    out(encodeEvent({ type: "asset_failure", asset: "", partitionKey: null, error: serializeError(e) }));
    process.stderr.write(`baton-step: ${(e as Error).message ?? String(e)}\n`);
    process.exit(2);
  },
);
