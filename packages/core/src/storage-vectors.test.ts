import { readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { encodeSegment, LocalIOStore } from "./index.js";

// The shared vectors: Python's baton_core.storage.encode_segment is checked against the same file
// (python/tests/test_storage_vectors.py), so both languages name the same folder for a key.
interface Vectors {
  readonly vectors: readonly { readonly input: string; readonly encoded: string }[];
  readonly folders: readonly { readonly key: string[]; readonly partition: string | null; readonly folder: string }[];
}
const file = fileURLToPath(new URL("../test-vectors/segments.json", import.meta.url));
const shared = JSON.parse(readFileSync(file, "utf8")) as Vectors;

describe("storage encoding vectors shared with Python", () => {
  it("has cases for the reserved name, dot segments and non-ASCII keys", () => {
    const inputs = shared.vectors.map((v) => v.input);
    for (const needed of ["__unpartitioned__", ".", "..", ".hidden", "a/b", "日本語", "!'()*"]) expect(inputs).toContain(needed);
  });

  it.each(shared.vectors.map((v) => [v.input, v.encoded] as const))("encodeSegment(%j) = %j", (input, encoded) => {
    expect(encodeSegment(input)).toBe(encoded);
  });

  it.each(shared.folders.map((f) => [f.key, f.partition, f.folder] as const))("the folder of %j partition %j is %j", (key, partition, folder) => {
    const root = join("/", "store");
    const dir = new LocalIOStore(root).dirOf(key, partition ?? undefined);
    expect(relative(root, dir).split("\\").join("/")).toBe(folder);
  });
});
