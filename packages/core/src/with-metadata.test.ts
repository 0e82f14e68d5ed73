import pl from "nodejs-polars";
import { describe, expect, it } from "vitest";
import { BatonError } from "./errors.js";
import { isOutputWithMetadata, unwrapOutput, withMetadata } from "./with-metadata.js";

function thrown(fn: () => unknown): BatonError {
  try {
    fn();
  } catch (e) {
    if (e instanceof BatonError) return e;
    throw e;
  }
  throw new Error("expected a BatonError");
}

describe("withMetadata", () => {
  it("wraps a frame and its metadata; a bare frame unwraps to itself", () => {
    const frame = pl.DataFrame({ a: [1, 2] });
    const out = withMetadata(frame, { rows_dropped: 3, source: { file: "x.csv", parts: [1, 2] } });
    expect(isOutputWithMetadata(out)).toBe(true);
    expect(isOutputWithMetadata(frame)).toBe(false);
    expect(Object.isFrozen(out)).toBe(true);
    const unwrapped = unwrapOutput(out, "a");
    expect(unwrapped.data).toBe(frame);
    expect(unwrapped.metadata).toEqual({ rows_dropped: 3, source: { file: "x.csv", parts: [1, 2] } });
    expect(unwrapOutput(frame, "a").data).toBe(frame);
    expect(unwrapOutput(frame, "a").metadata).toEqual({});
    expect(unwrapOutput(undefined, "a")).toEqual({ data: undefined, metadata: {} });
    expect(unwrapOutput(withMetadata(undefined, { published: 2 }), "a").metadata).toEqual({ published: 2 });
  });

  it("refuses metadata that is not JSON, naming the key", () => {
    const frame = pl.DataFrame({ a: [1] });
    const bad = (m: unknown) => thrown(() => unwrapOutput(withMetadata(frame, m as never), "orders", () => "src/defs.ts:3"));
    expect(bad({ at: new Date(0) }).problem).toBe('withMetadata(): metadata "at" is an object (Date), not a JSON value');
    expect(bad({ n: { deep: [1, Number.NaN] } }).problem).toContain('"n.deep[1]" is NaN');
    expect(bad({ big: 1n }).problem).toContain("a bigint");
    expect(bad({ u: undefined }).problem).toContain("undefined");
    const e = bad([1]);
    expect(e.code).toBe("WRONG_OUTPUT_TYPE");
    expect(e.message).toContain('asset "orders" (src/defs.ts:3)');
  });
});
