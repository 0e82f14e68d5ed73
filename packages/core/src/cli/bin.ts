#!/usr/bin/env node
import { formatError, runCli } from "./main.js";

runCli(process.argv.slice(2), {
  cwd: process.cwd(),
  env: process.env,
  out: (t) => process.stdout.write(t + "\n"),
  err: (t) => process.stderr.write(t + "\n"),
}).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(formatError(e) + "\n");
    process.exitCode = 1;
  },
);
