import { isRetryable } from "../errors.js";
import { serveSteps } from "../worker/server.js";
import { processIO, type StepMain } from "./io.js";
import { exitWithParent } from "./parent.js";

/**
 * The body of a step entry (`baton-step`, an adapter's own bin): `<entry> worker --socket S …`
 * serves `main` warm over a Unix socket (worker/server.ts, WORKER-CONTRACT.md); any other command
 * runs `main` once as this process, which dies with its parent and exits with main's code.
 */
export function runStepEntry(main: StepMain, options: { readonly name: string } = { name: "baton-step" }): void {
  const argv = process.argv.slice(2);
  if (argv[0] === "worker") {
    serveSteps(main, argv.slice(1), options).catch((e: unknown) => {
      processIO.err(`${options.name} worker: ${(e as Error)?.message ?? String(e)}\n`);
      process.exit(3);
    });
    return;
  }
  exitWithParent();
  main(argv, processIO).then(
    (code) => process.exit(code),
    (e: unknown) => {
      // A main that throws (its own errors are its events): the message, and the retry class.
      processIO.err(`${options.name}: ${(e as Error)?.message ?? String(e)}\n`);
      process.exit(isRetryable(e) ? 1 : 3);
    },
  );
}
