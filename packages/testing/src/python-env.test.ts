import { execFileSync, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { buildTinyWheel } from "./__tests__/tiny-wheel.js";
import { withFileLock } from "./lock.js";
import { ensurePythonEnv, pinnedDir, type PythonEnv } from "./python-env.js";
import { waitFor } from "./wait.js";

const root = mkdtempSync(join(tmpdir(), "baton-python-env-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** What the installed baton_tiny says, imported from outside any source folder. */
function tinyValue(env: PythonEnv): string {
  return execFileSync(env.python, ["-c", "import baton_tiny; print(baton_tiny.VALUE)"], { cwd: root, encoding: "utf8" }).trim();
}

describe("pinnedDir", () => {
  it("names a folder by the hash of its pins, in order, under the root: the names existing environments already have", () => {
    const sha = (text: string) => createHash("sha256").update(text).digest("hex").slice(0, 12);
    expect(pinnedDir("moto", ["moto==5\n", "3.11"], "/venvs")).toBe(`/venvs/moto-${sha("moto==5\n3.11")}`);
    expect(pinnedDir("x", [Buffer.from("pom"), "launcher"], "/venvs")).toBe(pinnedDir("x", ["pomlauncher"], "/venvs"));
    expect(pinnedDir("x", ["b", "a"], "/venvs")).not.toBe(pinnedDir("x", ["a", "b"], "/venvs"));
    const saved = process.env.BATON_VENV_ROOT;
    process.env.BATON_VENV_ROOT = "/elsewhere";
    try {
      expect(pinnedDir("x", ["a"])).toBe(`/elsewhere/x-${sha("a")}`);
    } finally {
      if (saved === undefined) delete process.env.BATON_VENV_ROOT;
      else process.env.BATON_VENV_ROOT = saved;
    }
  });
});

describe("ensurePythonEnv with wheels", () => {
  it("installs the wheels, keeps them while their bytes are unchanged, reinstalls a changed wheel", () => {
    const requirements = join(root, "requirements.txt");
    // no pins: the base env is all the test needs, and it makes no index request
    writeFileSync(requirements, "# pinned requirements (none)\n");
    const wheels = join(root, "wheels");
    const wheel = buildTinyWheel(root, wheels, "one");
    const venvs = join(root, "venvs");

    const first = ensurePythonEnv({ name: "tiny", requirements, wheels: [wheel], root: venvs });
    expect(first.dir.startsWith(join(venvs, "tiny-"))).toBe(true);
    expect(tinyValue(first)).toBe("one");
    const marker = join(first.dir, ".baton-wheels");
    expect(readFileSync(marker, "utf8")).toMatch(/^[0-9a-f]{64} {2}baton_tiny-0\.1\.0-py3-none-any\.whl\n$/);
    const installedAt = statSync(marker).mtimeMs;

    expect(ensurePythonEnv({ name: "tiny", requirements, wheels: [wheel], root: venvs }).dir).toBe(first.dir);
    expect(statSync(marker).mtimeMs).toBe(installedAt);

    // same file name and version, other bytes: what a rebuilt Baton wheel looks like
    rmSync(wheel);
    expect(buildTinyWheel(root, wheels, "two")).toBe(wheel);
    const second = ensurePythonEnv({ name: "tiny", requirements, wheels: [wheel], root: venvs });
    expect(second.dir).toBe(first.dir);
    expect(tinyValue(second)).toBe("two");
    expect(existsSync(`${first.dir}.lock`)).toBe(false);
  });

  it("several processes asking for the same environment at once all get one working environment", async () => {
    // child processes run the built module (turbo builds before tests), as separate vitest workers would
    const built = fileURLToPath(new URL("../dist/python-env.js", import.meta.url));
    if (!existsSync(built)) throw new Error(`${built} is missing: run \`pnpm --filter @baton/testing build\` first`);
    const requirements = join(root, "requirements-concurrent.txt");
    writeFileSync(requirements, "# concurrent\n");
    const wheel = buildTinyWheel(root, join(root, "wheels-concurrent"), "three");
    const venvs = join(root, "venvs-concurrent");
    const script = `import { ensurePythonEnv } from ${JSON.stringify(built)};
const env = ensurePythonEnv({ name: "tiny", requirements: ${JSON.stringify(requirements)}, wheels: [${JSON.stringify(wheel)}], root: ${JSON.stringify(venvs)} });
process.stdout.write(env.dir);`;
    const outcomes = await Promise.all(
      [1, 2, 3].map(
        () =>
          new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
            const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "pipe"] });
            let out = "";
            let err = "";
            child.stdout.on("data", (d: Buffer) => (out += d.toString()));
            child.stderr.on("data", (d: Buffer) => (err += d.toString()));
            child.on("close", (code) => resolve({ code, out, err }));
          }),
      ),
    );
    for (const o of outcomes) expect(o, o.err).toMatchObject({ code: 0 });
    expect(new Set(outcomes.map((o) => o.out)).size).toBe(1);
    const dir = outcomes[0]?.out ?? "";
    expect(tinyValue({ dir, python: join(dir, "bin", "python"), bin: (t) => join(dir, "bin", t) })).toBe("three");
    expect(existsSync(`${dir}.lock`)).toBe(false);
  });

  it("refuses a wheel that is not an existing absolute path, naming it", () => {
    const requirements = join(root, "requirements.txt");
    writeFileSync(requirements, "\n");
    expect(() => ensurePythonEnv({ name: "tiny", requirements, wheels: ["dist/nope.whl"], root: join(root, "venvs") })).toThrow(/wheel dist\/nope\.whl is not an existing absolute path/);
  });
});

describe("withFileLock", () => {
  it("waits while another process holds the lock, then runs", async () => {
    const lock = join(root, "held.lock");
    // a plain node process takes the lock with O_EXCL, as ensurePythonEnv does, and holds it 1.5 s
    const holder = spawn(process.execPath, ["-e", `const fs=require("fs");const fd=fs.openSync(${JSON.stringify(lock)},"wx");fs.writeSync(fd,process.pid+"\\n");setTimeout(()=>fs.rmSync(${JSON.stringify(lock)}),1500);`], { stdio: "inherit" });
    await waitFor(() => existsSync(lock), { what: "the other process to take the lock", timeoutMs: 30_000 });
    const started = Date.now();
    const held = withFileLock(lock, { what: "the test folder" }, () => readFileSync(lock, "utf8"));
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(held.split("\n")[0]).toBe(String(process.pid));
    expect(existsSync(lock)).toBe(false);
    await waitFor(() => holder.exitCode !== null, { what: "the lock holder to exit", timeoutMs: 30_000 });
  });

  it("takes over a lock whose holder is gone", () => {
    const lock = join(root, "dead.lock");
    const gone = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" }).stdout;
    writeFileSync(lock, `${gone}\n`);
    const started = Date.now();
    expect(withFileLock(lock, { what: "the test folder", timeoutMs: 60_000 }, () => "ran")).toBe("ran");
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("names what it waited for when a live holder keeps the lock past the deadline", () => {
    const lock = join(root, "live.lock");
    writeFileSync(lock, `${process.pid}\n`);
    expect(() => withFileLock(lock, { what: "the tiny virtual environment", timeoutMs: 300 }, () => "never")).toThrow(
      /waiting for the lock on the tiny virtual environment \(.*live\.lock, held by pid \d+\)/,
    );
    rmSync(lock);
  });
});
