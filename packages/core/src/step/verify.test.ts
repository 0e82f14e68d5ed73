import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { asset } from "../asset.js";
import { definitions } from "../definitions.js";
import { toManifest } from "../manifest/build.js";
import { cleanupTempDirs, tempDir, thrownSync } from "../__tests__/helpers.js";
import { verifyModule } from "./verify.js";

afterAll(cleanupTempDirs);

/** A build-shaped folder: OUT/baton/manifest.json next to runtime/definitions.mjs (and build.json when given). */
function built(target?: string) {
  const baton = join(tempDir(), "baton");
  mkdirSync(join(baton, "runtime"), { recursive: true });
  const module = join(baton, "runtime", "definitions.mjs");
  writeFileSync(module, "export default 1;\n");
  if (target) writeFileSync(join(baton, "build.json"), JSON.stringify({ target }));
  const defs = definitions({ assets: [asset({ key: "a", compute: () => undefined, output: "none" })] });
  return { module, manifestPath: join(baton, "manifest.json"), manifest: toManifest(defs, { module, manifestDir: baton }) };
}

describe("verifyModule", () => {
  it("accepts the module the manifest was built from", () => {
    const { manifest, manifestPath } = built();
    expect(() => verifyModule(manifest, manifestPath)).not.toThrow();
  });

  it("refuses a changed module, naming the file and the build command of the target in build.json", () => {
    const { manifest, manifestPath, module } = built("airflow");
    writeFileSync(module, "export default 2;\n");
    const e = thrownSync(() => verifyModule(manifest, manifestPath));
    expect(e).toMatchObject({ code: "MANIFEST", file: module });
    expect(e.message).toContain("the definitions module changed since the build");
    expect(e.message).toContain(module);
    expect(e.hint).toContain("`baton airflow build`");
  });

  it("refuses a missing module with a generic rebuild hint when there is no build.json", () => {
    const { manifest, manifestPath, module } = built();
    const e = thrownSync(() => verifyModule({ ...manifest, runtime: { ...manifest.runtime, module: "runtime/gone.mjs" } }, manifestPath));
    expect(e).toMatchObject({ code: "MANIFEST", file: join(module, "..", "gone.mjs") });
    expect(e.message).toContain("is missing");
    expect(e.hint).toContain("`baton <target> build`");
  });

  it("costs well under a millisecond for a 110 kB module", () => {
    const { manifestPath, module } = built();
    writeFileSync(module, "// padding\n".repeat(10_000));
    const defs = definitions({ assets: [asset({ key: "a", compute: () => undefined, output: "none" })] });
    const manifest = toManifest(defs, { module, manifestDir: join(manifestPath, "..") });
    const t0 = performance.now();
    for (let i = 0; i < 50; i++) verifyModule(manifest, manifestPath);
    const perCall = (performance.now() - t0) / 50;
    console.log(`verifyModule: ${perCall.toFixed(3)} ms per call (110 kB module)`);
    expect(perCall).toBeLessThan(50);
  });
});
