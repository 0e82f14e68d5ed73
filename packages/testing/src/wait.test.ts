import { describe, expect, it } from "vitest";
import { waitFor } from "./wait.js";

describe("waitFor", () => {
  it("returns the first truthy value of the condition", async () => {
    let n = 0;
    expect(await waitFor(() => (++n >= 3 ? n : undefined), { what: "three calls", intervalMs: 1 })).toBe(3);
  });

  it("treats a throwing condition as not yet and names what it waited for at the deadline", async () => {
    await expect(
      waitFor(
        () => {
          throw new Error("connection refused");
        },
        { what: "the server to answer", timeoutMs: 50, intervalMs: 5 },
      ),
    ).rejects.toThrow(/waiting for the server to answer; last error: connection refused/);
  });
});
