import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { describe, expect, it } from "vitest";
import { corePythonWheel } from "./python.js";

describe("corePythonWheel", () => {
  it("is the one baton-core wheel of this package's version", () => {
    const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };
    expect(basename(corePythonWheel())).toBe(`baton_core-${version}-py3-none-any.whl`);
  });
});
