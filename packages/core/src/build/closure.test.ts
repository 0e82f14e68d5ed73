import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { cleanupTempDirs, tempDir } from "../__tests__/helpers.js";
import { planClosure } from "./closure.js";

afterAll(cleanupTempDirs);

const EXAMPLE = join(fileURLToPath(new URL("../..", import.meta.url)), "..", "..", "examples", "customer-metrics");

/** `pnpm exec` sets NODE_PATH to the workspace's hoisted packages, which would resolve the SDK from anywhere. */
function withoutNodePath<T>(f: () => T): T {
  const Module = createRequire(import.meta.url)("node:module") as { _initPaths(): void };
  const saved = process.env.NODE_PATH;
  delete process.env.NODE_PATH;
  Module._initPaths();
  try {
    return f();
  } finally {
    if (saved !== undefined) process.env.NODE_PATH = saved;
    Module._initPaths();
  }
}

function pkg(dir: string, json: Record<string, unknown>): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "package.json"), JSON.stringify(json));
  return dir;
}

describe("the runtime closure and core's optional AWS SDK peers", () => {
  it("takes @aws-sdk/client-s3 and @aws-sdk/lib-storage (and their dependencies) when they are installed next to core", () => {
    const closure = planClosure(EXAMPLE, ["@baton/core"]);
    const names = new Set(closure.packages.map((p) => p.name));
    for (const name of ["@aws-sdk/client-s3", "@aws-sdk/lib-storage", "@smithy/core", "@aws-sdk/credential-provider-node"]) expect(names, name).toContain(name);
    expect(closure.packages.find((p) => p.name === "@aws-sdk/client-s3")?.location).toBe("node_modules/@aws-sdk/client-s3");
  });

  it("takes them from the project when core itself cannot resolve them (a pnpm store layout), and leaves other packages' absent peers out", () => {
    const root = tempDir("baton-closure-");
    const project = pkg(join(root, "project"), { name: "p", version: "1.0.0" });
    // core lives in a store folder whose node_modules has no SDK; the project links it in.
    const core = pkg(join(root, "store", "core", "node_modules", "@baton", "core"), {
      name: "@baton/core",
      version: "0.1.0",
      peerDependencies: { "@aws-sdk/client-s3": "*", "left-pad": "*" },
      dependencies: { helper: "1.0.0" },
    });
    pkg(join(root, "store", "core", "node_modules", "helper"), { name: "helper", version: "1.0.0", peerDependencies: { "@aws-sdk/lib-storage": "*" } });
    mkdirSync(join(project, "node_modules", "@baton"), { recursive: true });
    symlinkSync(core, join(project, "node_modules", "@baton", "core"));
    pkg(join(project, "node_modules", "@aws-sdk", "client-s3"), { name: "@aws-sdk/client-s3", version: "3.1175.0", dependencies: { tslib: "2.0.0" } });
    pkg(join(project, "node_modules", "@aws-sdk", "lib-storage"), { name: "@aws-sdk/lib-storage", version: "3.1175.0" });
    pkg(join(project, "node_modules", "tslib"), { name: "tslib", version: "2.0.0" });
    pkg(join(project, "node_modules", "left-pad"), { name: "left-pad", version: "1.0.0" });
    expect(dirname(core)).not.toBe(join(project, "node_modules", "@baton"));
    const closure = withoutNodePath(() => planClosure(project, ["@baton/core"]));
    const locations = closure.packages.map((p) => `${p.location}@${p.version}`);
    expect(locations).toContain("node_modules/@aws-sdk/client-s3@3.1175.0");
    expect(locations).toContain("node_modules/tslib@2.0.0");
    // core's peers only: left-pad is a peer of core and installed in the project, so it is taken;
    // the peer of another package (helper) that only the project has is not.
    expect(locations).toContain("node_modules/left-pad@1.0.0");
    expect(locations.some((l) => l.startsWith("node_modules/@aws-sdk/lib-storage"))).toBe(false);
  });
});
