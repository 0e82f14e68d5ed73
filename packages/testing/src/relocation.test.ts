import { once } from "node:events";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTinyWheel } from "./__tests__/tiny-wheel.js";
import { findCheckout, relocate, type Relocated } from "./relocation.js";
import { waitFor } from "./wait.js";

const checkout = findCheckout();

/** A small build-like folder: a file to read, a wheel and a requirements file that installs it. */
function makeBuild(parent: string): string {
  const build = mkdtempSync(join(parent, "baton-build-"));
  mkdirSync(join(build, "baton"));
  writeFileSync(join(build, "baton", "hello.txt"), "hello from the build\n");
  buildTinyWheel(build, join(build, "wheels"), "one");
  rmSync(join(build, "tiny-src-one"), { recursive: true });
  writeFileSync(join(build, "requirements.txt"), "--find-links wheels\nbaton-tiny==0.1.0\n");
  return build;
}

describe("relocate", () => {
  let build: string;
  let r: Relocated;
  beforeAll(() => {
    build = makeBuild(tmpdir());
    r = relocate(build);
  });
  afterAll(() => {
    r?.cleanup();
    rmSync(build, { recursive: true, force: true });
  });

  it("copies the folder into a fresh temp folder outside the checkout", () => {
    expect(r.dir).not.toBe(build);
    expect(r.dir.startsWith(`${checkout}/`)).toBe(false);
    expect(r.checkout).toBe(checkout);
    expect(readFileSync(join(r.dir, "baton", "hello.txt"), "utf8")).toBe("hello from the build\n");
  });

  it("hides the checkout and the original folder; the copy stays readable", async () => {
    const fromCheckout = await r.run("cat", [join(checkout, "pnpm-workspace.yaml")]);
    expect(fromCheckout.code).not.toBe(0);
    expect(fromCheckout.stderr).toMatch(/No such file/);
    const fromOriginal = await r.run("cat", [join(build, "baton", "hello.txt")]);
    expect(fromOriginal.code).not.toBe(0);
    const fromCopy = await r.run("node", ["-e", "process.stdout.write(require('node:fs').readFileSync('baton/hello.txt', 'utf8'))"]);
    expect(fromCopy).toMatchObject({ code: 0, stdout: "hello from the build\n" });
    // outside the namespace nothing changed
    expect(readFileSync(join(checkout, "pnpm-workspace.yaml"), "utf8").length).toBeGreaterThan(0);
  });

  it("runs with a fresh empty HOME, a reduced PATH and no variable leading back to the sources", async () => {
    const saved = { ...process.env };
    Object.assign(process.env, {
      NODE_PATH: join(checkout, "node_modules"),
      PYTHONPATH: "/somewhere/python",
      VIRTUAL_ENV: join(checkout, ".venvs", "x"),
      npm_config_registry: "http://127.0.0.1:1/",
      BATON_TEST_POINTS_BACK: join(checkout, "packages"),
      XDG_CONFIG_HOME: "/somewhere/config",
      BATON_TEST_IN_HOME: join(homedir(), ".dagster"),
    });
    try {
      const r1 = await r.run("sh", ["-c", 'echo "HOME=$HOME"; ls -A "$HOME" | wc -l; env'], { env: { EXTRA: "given" } });
      expect(r1.code).toBe(0);
      const lines = r1.stdout.split("\n");
      expect(lines[0]).toBe(`HOME=${r.home}`);
      expect(lines[1]?.trim()).toBe("0");
      for (const name of ["NODE_PATH", "PYTHONPATH", "VIRTUAL_ENV", "npm_config_registry", "BATON_TEST_POINTS_BACK", "XDG_CONFIG_HOME", "BATON_TEST_IN_HOME"])
        expect(lines.some((l) => l.startsWith(`${name}=`))).toBe(false);
      expect(lines).toContain("EXTRA=given");
      const path = lines.find((l) => l.startsWith("PATH="));
      expect(path).toMatch(/^PATH=(.*:)?\/usr\/local\/bin:\/usr\/bin:\/bin$/);
      expect(path?.slice(5).split(":")).toContain(dirname(process.execPath));
      const withTools = await r.run("sh", ["-c", 'echo "$PATH"'], { path: ["/opt/tools/bin"], venv: null });
      expect(withTools.stdout.trim().split(":")[0]).toBe("/opt/tools/bin");
      expect(path).not.toContain(checkout);
    } finally {
      process.env = saved;
    }
  });

  it("installs a venv from the copy's requirements and its own wheels/, and puts it on PATH", async () => {
    const venv = await r.venv("requirements.txt");
    expect(venv.dir.startsWith(r.dir)).toBe(false);
    const out = await r.run("python", ["-c", "import baton_tiny, sys; print(baton_tiny.VALUE, sys.prefix)"], { cwd: r.home });
    expect(out.stderr).toBe("");
    expect(out.stdout.trim()).toBe(`one ${venv.dir}`);
  });

  it("a spawned command is the process the caller holds: killing it ends the command", async () => {
    const child = r.spawn("sleep", ["120"]);
    const pid = child.pid ?? 0;
    // exec replaced unshare and sh: the pid's command line becomes the command's own
    await waitFor(() => readFileSync(`/proc/${pid}/cmdline`, "utf8").startsWith("sleep\0"), { what: `pid ${pid} to exec sleep`, timeoutMs: 30_000 });
    const exited = once(child, "exit");
    child.kill("SIGTERM");
    const [code, signal] = await exited;
    expect({ code, signal }).toEqual({ code: null, signal: "SIGTERM" });
  });

  it("refuses a working directory inside a hidden folder, where relative paths would still reach the sources", async () => {
    await expect(r.run("cat", ["pnpm-workspace.yaml"], { cwd: checkout })).rejects.toThrow(/working directory .* is inside the hidden/);
    expect(() => r.spawn("cat", ["baton/hello.txt"], { cwd: build })).toThrow(/is inside the hidden/);
    expect(await r.run("cat", ["hello.txt"], { cwd: "baton" })).toMatchObject({ code: 0, stdout: "hello from the build\n" });
  });

  it("kills a command past its deadline and names it", async () => {
    await expect(r.run("sleep", ["60"], { timeoutMs: 300 })).rejects.toThrow(/`sleep 60` .* did not end within 0 s/);
  });

  it("rejects a venv whose requirements file is not in the copy", async () => {
    await expect(r.venv("missing.txt")).rejects.toThrow(/no requirements file .*missing\.txt/);
  });
});

describe("relocate with more folders to hide", () => {
  it("hides each of them, ignores one that does not exist, and leaves the rest of the machine alone", async () => {
    const parent = mkdtempSync(join(tmpdir(), "baton-hide-"));
    const build = join(parent, "build");
    mkdirSync(build);
    writeFileSync(join(build, "data.txt"), "copy\n");
    const stores = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((n) => join(parent, `store-${n}`));
    for (const s of stores) {
      mkdirSync(s);
      writeFileSync(join(s, "pkg.txt"), "store\n");
    }
    const visible = join(parent, "visible.txt");
    writeFileSync(visible, "visible\n");
    const r = relocate(build, { hide: [...stores, join(parent, "missing")] });
    try {
      // ten extra mounts: the wrapper's positional parameters go past $9
      for (const s of [stores[0], stores[9]]) expect((await r.run("cat", [join(s ?? "", "pkg.txt")])).code).not.toBe(0);
      expect(await r.run("cat", [visible])).toMatchObject({ code: 0, stdout: "visible\n" });
      expect(await r.run("cat", ["data.txt"])).toMatchObject({ code: 0, stdout: "copy\n" });
    } finally {
      r.cleanup();
      rmSync(parent, { recursive: true, force: true });
    }
  });
});

describe("relocate, where a mount namespace is not permitted", () => {
  it("throws saying why and how to fix it", () => {
    // an unprivileged user may not unshare -m; the built module runs as nobody in a child process
    const built = fileURLToPath(new URL("../dist/relocation.js", import.meta.url));
    if (!existsSync(built)) throw new Error(`${built} is missing: run \`pnpm --filter @baton/testing build\` first`);
    const build = mkdtempSync(join(tmpdir(), "baton-build-"));
    chmodSync(build, 0o755);
    try {
      const script = `import { relocate } from ${JSON.stringify(built)};\ntry { relocate(${JSON.stringify(build)}); } catch (e) { process.stdout.write(e.message); process.exit(7); }`;
      const r = spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, "--input-type=module", "-e", script], { encoding: "utf8", cwd: "/" });
      expect(r.status, r.stderr).toBe(7);
      expect(r.stdout).toMatch(/cannot make a private mount namespace .*Operation not permitted[\s\S]*fix: run the relocation tests as root/);
    } finally {
      rmSync(build, { recursive: true, force: true });
    }
  });
});

describe("relocate, for a build folder inside the checkout", () => {
  it("hides the folder with the checkout and still runs the copy", async () => {
    const parent = join(checkout, "packages", "testing", "node_modules", ".cache");
    mkdirSync(parent, { recursive: true });
    const build = mkdtempSync(join(parent, "baton-build-"));
    writeFileSync(join(build, "data.txt"), "inside\n");
    const r = relocate(build);
    try {
      expect((await r.run("cat", [join(build, "data.txt")])).code).not.toBe(0);
      expect(await r.run("cat", ["data.txt"])).toMatchObject({ code: 0, stdout: "inside\n" });
    } finally {
      r.cleanup();
      rmSync(build, { recursive: true, force: true });
    }
  });
});
