import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { StepEvent } from "../step/events.js";
import { progressPrinter } from "./progress.js";

const CORE = fileURLToPath(new URL("../..", import.meta.url)).replace(/\/$/, "");

function printed(error: { name: string; message: string; stack?: string }): string[] {
  const lines: string[] = [];
  const event = { type: "asset_failure", asset: "broken", partitionKey: null, error: { ...error, retryable: true } } as unknown as StepEvent;
  progressPrinter((l) => lines.push(l))(event);
  return lines;
}

describe("progress output (issue 10, defect 9)", () => {
  it("a crash inside compute names the user's file and line", () => {
    const stack = [
      "TypeError: Cannot read properties of undefined (reading 'filter')",
      "    at Object.compute (/proj/src/definitions.ts:12:38)",
      `    at runAsset (${CORE}/src/step/run.ts:150:20)`,
      "    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)",
    ].join("\n");
    expect(printed({ name: "TypeError", message: "Cannot read properties of undefined (reading 'filter')", stack })).toEqual([
      "✘ broken  Cannot read properties of undefined (reading 'filter')\n    at /proj/src/definitions.ts:12:38",
    ]);
  });

  it("a Baton error, which names its file already, and an error from core alone get no frame", () => {
    const batonStack = `BatonError: asset "broken" (/proj/src/definitions.ts): compute returned 1\n    at check (${CORE}/src/step/run.ts:231:9)\n    at Object.compute (/proj/src/definitions.ts:12:38)`;
    expect(printed({ name: "BatonError", message: 'asset "broken" (/proj/src/definitions.ts): compute returned 1', stack: batonStack })).toEqual([
      '✘ broken  asset "broken" (/proj/src/definitions.ts): compute returned 1',
    ]);
    expect(printed({ name: "Error", message: "boom", stack: `Error: boom\n    at x (${CORE}/dist/step/run.js:1:1)` })).toEqual(["✘ broken  boom"]);
    expect(printed({ name: "Error", message: "no stack" })).toEqual(["✘ broken  no stack"]);
  });
});
