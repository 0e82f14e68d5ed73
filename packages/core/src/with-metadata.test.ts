import pl from "nodejs-polars";
import { afterEach, describe, expect, it } from "vitest";
import { asset } from "./asset.js";
import { definitions } from "./definitions.js";
import { materialize } from "./executor/materialize.js";
import { LocalIOStore } from "./io/store.js";
import { caught as thrown, cleanupTempDirs, tempDir } from "./__tests__/helpers.js";
import { isOutputWithMetadata, unwrapOutput, withMetadata } from "./with-metadata.js";

afterEach(cleanupTempDirs);

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

describe("withMetadata on the embedded executor", () => {
  it("puts the metadata in the run result's materialization, and the frame in the store", async () => {
    const cleaned = asset({
      key: "cleaned",
      metadata: { owner: "sales" },
      // The compute's return type is T1's (asset.ts); the runtime takes withMetadata's result.
      compute: () => withMetadata(pl.DataFrame({ a: [1, 2] }), { rows_dropped: 3 }) as never,
    });
    const store = new LocalIOStore(tempDir());
    const result = await materialize(definitions({ assets: [cleaned] }), { store, env: {} });
    expect(result.status).toBe("success");
    const [m] = result.assets.cleaned!.materializations;
    expect(m!.metadata.user).toEqual({ owner: "sales", rows_dropped: 3 });
    expect(m!.metadata.rowCount).toBe(2);
    expect((await store.readRecord(["cleaned"], undefined))!.rowCount).toBe(2);
  });
});
