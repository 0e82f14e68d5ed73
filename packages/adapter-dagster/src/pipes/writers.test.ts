/** The stdio channels write where they are told: fds 1/2 by default, a warm worker's step connection otherwise. */
import { describe, expect, it } from "vitest";
import { makeMessage } from "./protocol.js";
import { PipesDefaultMessageWriter, type PipesStdioSink } from "./writers.js";


function recording() {
  const written = { out: [] as string[], err: [] as string[] };
  const target: PipesStdioSink = { out: (t) => void written.out.push(t), err: (t) => void written.err.push(t) };
  return { written, target };
}

describe("PipesDefaultMessageWriter's stdio channels", () => {
  it("write each message as one line to the given sink's stream", () => {
    const { written, target } = recording();
    const channel = new PipesDefaultMessageWriter({ stdio: target }).open({ stdio: "stderr" });
    channel.writeMessage(makeMessage("log", { message: "hi", level: "INFO" }));
    expect(written.out).toEqual([]);
    expect(written.err.map((l) => JSON.parse(l) as unknown)).toEqual([{ __dagster_pipes_version: "0.1", method: "log", params: { message: "hi", level: "INFO" } }]);
    expect(written.err[0]!.endsWith("\n")).toBe(true);
  });

  it("buffered: nothing until close, then every message at once to the sink", () => {
    const { written, target } = recording();
    const channel = new PipesDefaultMessageWriter({ stdio: target }).open({ buffered_stdio: "stdout" });
    channel.writeMessage(makeMessage("log", { message: "one", level: "INFO" }));
    channel.writeMessage(makeMessage("closed", {}));
    expect(written.out).toEqual([]);
    channel.close?.();
    expect(written.out.join("").trim().split("\n").map((l) => (JSON.parse(l) as { method: string }).method)).toEqual(["log", "closed"]);
  });
});
