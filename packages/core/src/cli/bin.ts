#!/usr/bin/env node
import { writeSync } from "node:fs";
import { redactRegistered } from "../step/output.js";
import { isRetryable } from "../errors.js";

const argv = process.argv.slice(2);
const io = {
  cwd: process.cwd(),
  env: process.env,
  out: (t: string) => process.stdout.write(t + "\n"),
  err: (t: string) => process.stderr.write(t + "\n"),
};

// `baton init` runs where nothing is installed yet (on Node 20, npm skips nodejs-polars' native
// package): it must not load the rest of the CLI, which loads polars.
if (argv[0] === "init") {
  const { runInit } = await import("./init.js");
  try {
    process.exitCode = runInit(argv.slice(1), io);
  } catch (e) {
    process.stderr.write(`✘ ${(e as Error).message}\n`);
    process.exitCode = 1;
  }
  process.exit();
}

const { formatError, runCli, unfinishedAssets } = await import("./main.js");

let settled = false;

/**
 * The CLI never ends with exit 0 before its command finished: a compute whose promise never
 * settles empties the event loop, and process.exit() in user code ends the process; both fail
 * the run, naming the assets without a result.
 */
function unfinished(hint: string): void {
  settled = true;
  const open = unfinishedAssets();
  writeSync(2, `✘ the run ended before it finished${open.length ? `: no result for ${open.join(", ")}` : ""}; ${hint}\n`);
  process.exitCode = 1;
}
process.on("beforeExit", () => {
  if (!settled) unfinished("the event loop emptied while it ran: a compute whose promise never settles?");
});
process.on("exit", (code) => {
  if (!settled) unfinished(`process.exit(${code}) was called while it ran: process.exit() in user code (or a library)?`);
});
// Node's own crash report would print a secret as it is: report the crash redacted instead.
process.on("uncaughtException", (e: unknown) => {
  const open = settled ? [] : unfinishedAssets();
  settled = true;
  const text = (e as Error)?.stack ?? String(e);
  writeSync(2, redactRegistered(`✘ the run crashed${open.length ? ` with no result for ${open.join(", ")}` : ""}: ${text}\n`));
  process.exit(1);
});

runCli(argv, io).then(
  (code) => {
    settled = true;
    process.exitCode = code;
  },
  (e: unknown) => {
    settled = true;
    process.stderr.write(formatError(e, { stack: process.argv.includes("--json") }) + "\n");
    // As baton-step: 3 when a retry cannot help (a bad key, selection or definitions), 1 otherwise.
    process.exitCode = isRetryable(e) ? 1 : 3;
  },
);
