import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cleanupTempDirs, tempDir } from "../__tests__/helpers.js";
import { compileModule } from "./runtime.js";

afterAll(cleanupTempDirs);

describe("compileModule", () => {
  it("names a file above the project root without '..' in the module and its map", async () => {
    const dir = tempDir();
    mkdirSync(join(dir, "shared"));
    mkdirSync(join(dir, "project", "src"), { recursive: true });
    writeFileSync(join(dir, "shared", "lib.ts"), "export const answer = 42;\n");
    writeFileSync(join(dir, "project", "src", "definitions.ts"), 'import { answer } from "../../shared/lib.js";\nexport default { answer };\n');
    const compiled = await compileModule(join(dir, "project"), "src/definitions.ts");
    const code = Buffer.from(compiled.code).toString("utf8");
    expect(code).toContain("// _up/shared/lib.ts");
    expect(code).toContain("// src/definitions.ts");
    expect(code).not.toMatch(/\.\.[\\/]/);
    expect(JSON.parse(compiled.map).sources).toEqual(["_up/shared/lib.ts", "src/definitions.ts"]);
  });
});
