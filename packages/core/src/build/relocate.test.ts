import { spawnSync } from "node:child_process";
import { appendFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { cleanupTempDirs, tempDir } from "../__tests__/helpers.js";
import { LocalIOStore } from "../io/store.js";
import type { Manifest } from "../manifest/types.js";
import type { StepEvent } from "../step/events.js";
import { EVENT_PREFIX } from "../step/protocol.js";
import { fakeAdapter } from "./__tests__/fake-adapter.js";
import { buildTarget } from "./runner.js";

vi.setConfig({ testTimeout: 240_000, hookTimeout: 240_000 });
afterAll(cleanupTempDirs);

const CORE = fileURLToPath(new URL("../..", import.meta.url));
const EXAMPLE = join(CORE, "..", "..", "examples", "customer-metrics");

/** The checkout to hide: the folder with pnpm-workspace.yaml above core. */
function checkout(): string {
  for (let dir = CORE; ; dir = dirname(dir)) {
    if (existsSync(join(dir, "pnpm-workspace.yaml"))) return dir;
    if (dirname(dir) === dir) throw new Error(`no pnpm-workspace.yaml above ${CORE}`);
  }
}

/**
 * Run a command with the checkout and the original build hidden under empty tmpfs mounts, in a
 * private mount namespace (root here), with a fresh HOME and no NODE_PATH: what a deployment sees.
 */
function hidden(hide: readonly string[], cmd: string, args: readonly string[], env: Record<string, string>, cwd: string) {
  const mounts = hide.map((_, i) => `mount -t tmpfs none "$${i + 1}"`).join(" && ");
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k, v]) => v !== undefined && !/^(NODE_PATH|NODE_OPTIONS|INIT_CWD|PWD|OLDPWD)$|^(npm|PNPM)_/i.test(k))) as Record<string, string>;
  const r = spawnSync("unshare", ["-m", "--propagation", "private", "sh", "-c", `${mounts} && shift ${hide.length} && exec "$@"`, "sh", ...hide, cmd, ...args], {
    cwd,
    env: { ...clean, ...env },
    encoding: "utf8",
    timeout: 180_000,
  });
  if (r.error) throw r.error;
  const events = r.stdout
    .split("\n")
    .filter((l) => l.startsWith(EVENT_PREFIX))
    .map((l) => JSON.parse(l.slice(EVENT_PREFIX.length)) as StepEvent);
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, events };
}

/** Bytes of every file under dir (hard links counted once per path, as a copy would hold them). */
function sizeOf(dir: string): { bytes: number; files: number } {
  let bytes = 0;
  let files = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      const s = sizeOf(path);
      bytes += s.bytes;
      files += s.files;
    } else {
      bytes += statSync(path).size;
      files++;
    }
  }
  return { bytes, files };
}

let out: string;
let copy: string;
let manifest: Manifest;

beforeAll(async () => {
  out = join(tempDir("baton-reloc-out-"), "out");
  const t0 = performance.now();
  const result = await buildTarget(fakeAdapter(), { projectRoot: EXAMPLE, definitionsFile: "src/definitions.ts", outDir: out, storage: null });
  const ms = performance.now() - t0;
  const size = sizeOf(join(out, "baton", "runtime"));
  console.log(
    `build of examples/customer-metrics: ${Math.round(ms)} ms; runtime ${(size.bytes / 1e6).toFixed(1)} MB in ${size.files} files, ${result.runtime.packages.length} packages: ${result.runtime.packages.join(", ")}`,
  );
  manifest = result.manifest;
  copy = join(tempDir("baton-reloc-copy-"), "deployed");
  cpSync(out, copy, { recursive: true });
});

describe("a build runs with the source checkout out of reach", () => {
  it("names no build-time path outside the runtime's node_modules and the wheels", () => {
    const texts = result(copy).filter((f) => !f.startsWith("baton/runtime/node_modules/") && !f.startsWith("wheels/"));
    expect(texts).toEqual(expect.arrayContaining(["baton/manifest.json", "baton/build.json", "requirements.txt", "fake/definitions.py"]));
    for (const file of texts) {
      const text = readFileSync(join(copy, file), "utf8");
      expect(text, file).not.toContain(checkout());
      expect(text, file).not.toContain(out);
      if (!file.endsWith(".mjs")) expect(text.split(/["\s/]/).includes(".."), file).toBe(false);
    }
  });

  it("the copied step runtime materializes the example's assets into BATON_STORAGE", () => {
    const storage = tempDir("baton-reloc-storage-");
    const home = tempDir("baton-reloc-home-");
    const step = join(copy, "baton", "runtime", "node_modules", "@baton", "core", "dist", "step", "bin.js");
    const assets = ["orders", "customers", "customer_metrics"].flatMap((a) => ["--asset", a]);
    const r = hidden([checkout(), out], "node", [step, "run", "--manifest", join(copy, "baton", "manifest.json"), ...assets, "--run-id", "relocated-1"], { BATON_STORAGE: storage, HOME: home }, copy);
    expect(existsSync(join(CORE, "package.json")), "the checkout is hidden only inside the namespace").toBe(true);
    expect(hidden([checkout(), out], "sh", ["-c", `find "${checkout()}" "${out}" -mindepth 1 | wc -l`], { HOME: home }, copy).stdout.trim()).toBe("0");
    expect(r.code, r.stderr).toBe(0);
    expect(r.events.at(-1)).toMatchObject({ type: "step_end", status: "success" });
    expect(r.events.filter((e) => e.type === "materialization").map((e) => (e as { asset: string }).asset)).toEqual(["orders", "customers", "customer_metrics"]);
    return new LocalIOStore(storage).read(["customer_metrics"], undefined).then(({ frame }) => {
      expect(frame.height).toBeGreaterThan(0);
      expect(frame.columns).toContain("total_spend");
    });
  });

  it("the build's --storage is the step's BATON_STORAGE unless the worker sets one", async () => {
    const site = join(tempDir("baton-reloc-site-"), "deployed");
    cpSync(copy, site, { recursive: true });
    const baked = tempDir("baton-reloc-baked-");
    writeFileSync(join(site, "baton", "build.json"), JSON.stringify({ options: {}, storage: baked, target: "fake" }));
    const step = join(site, "baton", "runtime", "node_modules", "@baton", "core", "dist", "step", "bin.js");
    const args = [step, "run", "--manifest", join(site, "baton", "manifest.json"), "--asset", "customers", "--run-id", "baked-1"];
    const r = hidden([checkout(), out], "node", args, { HOME: tempDir() }, site);
    expect(r.code, r.stderr).toBe(0);
    expect((await new LocalIOStore(baked).read(["customers"], undefined)).frame.height).toBe(1000);
    const worker = tempDir("baton-reloc-worker-");
    expect(hidden([checkout(), out], "node", args, { HOME: tempDir(), BATON_STORAGE: worker }, site).code).toBe(0);
    expect(existsSync(join(worker, "customers"))).toBe(true);
  });

  it("a tampered module is refused: exit 3, the module named, rebuild with `baton fake build`", () => {
    const tampered = join(tempDir("baton-reloc-tampered-"), "deployed");
    cpSync(copy, tampered, { recursive: true });
    const module = join(tampered, "baton", manifest.runtime.module);
    appendFileSync(module, "\n// edited in place\n");
    const step = join(tampered, "baton", "runtime", "node_modules", "@baton", "core", "dist", "step", "bin.js");
    const r = hidden([checkout(), out], "node", [step, "run", "--manifest", join(tampered, "baton", "manifest.json"), "--asset", "orders", "--run-id", "tampered-1"], { HOME: tempDir() }, tampered);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(module);
    expect(r.stderr).toContain("the definitions module changed since the build");
    expect(r.stderr).toContain("rebuild with `baton fake build`");
    expect(r.events[0]).toMatchObject({ type: "asset_failure", error: { code: "MANIFEST", retryable: false } });
  });
});

/** Every file of a build folder, relative, with "/". */
function result(dir: string, prefix = ""): string[] {
  mkdirSync(dir, { recursive: true });
  return readdirSync(join(dir, prefix), { withFileTypes: true }).flatMap((e) => {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    return e.isDirectory() ? result(dir, rel) : [rel];
  });
}
