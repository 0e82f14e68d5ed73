import { execFileSync, spawn as spawnChild, type ChildProcess, type StdioOptions } from "node:child_process";
import { accessSync, constants, cpSync, existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { basename, delimiter, dirname, isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { PythonEnv } from "./python-env.js";

export interface RelocateOptions {
  /** Where the temp folder is made (default os.tmpdir()); must be outside the hidden folders. */
  readonly parent?: string;
  /** The monorepo checkout to hide (default: the folder with pnpm-workspace.yaml above this package). */
  readonly checkout?: string;
  /** Python for `venv()`: a version uv can find or an interpreter path (default "3.11"). */
  readonly python?: string;
  /** More folders to hide (a pnpm store, ~/.npm); those that do not exist are ignored. */
  readonly hide?: readonly string[];
}

export interface RelocatedRunOptions {
  /** Working directory, relative to the copy (default: the copy); never inside a hidden folder. */
  readonly cwd?: string;
  /** Added to the cleaned environment; wins over it (HOME and PATH are always set by relocate). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Whose bin goes first on PATH; default the last `venv()` made, `null` for none. */
  readonly venv?: PythonEnv | null;
  /** More folders for PATH, after the venv's bin (a tool the target machine would have, such as uv's folder). */
  readonly path?: readonly string[];
  /** `run` only: the command is killed (with its process group) after this long; default 300 s. */
  readonly timeoutMs?: number;
  /** `spawn` only (default "pipe"). */
  readonly stdio?: StdioOptions;
}

export interface RelocatedResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface Relocated {
  /** The copy of the build folder (absolute, in a fresh temp folder). */
  readonly dir: string;
  /** A fresh, empty HOME for every command. */
  readonly home: string;
  /** The monorepo checkout hidden from every command. */
  readonly checkout: string;
  /** A fresh venv in the temp folder, installed with uv from `requirementsFile` inside the namespace. */
  venv(requirementsFile: string, options?: { timeoutMs?: number }): Promise<PythonEnv>;
  run(cmd: string, args: readonly string[], options?: RelocatedRunOptions): Promise<RelocatedResult>;
  /** A long-running command (a server). Killing it ends the command itself: the wrapper execs it. */
  spawn(cmd: string, args: readonly string[], options?: RelocatedRunOptions): ChildProcess;
  /** Kills what `spawn` started that is still running and removes the temp folder. */
  cleanup(): void;
}

const DEFAULT_RUN_MS = 300_000;
const SYSTEM_PATH = ["/usr/local/bin", "/usr/bin", "/bin"];
/** Exit code of the wrapper when a mount fails, so run() can tell it from the command's own. */
const HIDE_FAILED = 125;
const HIDE_MARK = "baton-relocate: could not hide";

/** The monorepo root above this package (the folder holding pnpm-workspace.yaml). */
export function findCheckout(from = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = resolve(from); ; dir = dirname(dir)) {
    if (existsSync(join(dir, "pnpm-workspace.yaml"))) return dir;
    if (dirname(dir) === dir) throw new Error(`relocate: no pnpm-workspace.yaml above ${from}; pass { checkout } to say which folder to hide`);
  }
}

function inside(path: string, folder: string): boolean {
  return path === folder || path.startsWith(folder.endsWith("/") ? folder : `${folder}/`);
}

/** The first executable called `name` on PATH, as an absolute path (PATH inside is reduced). */
function onPath(name: string): string {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  throw new Error(`relocate: \`${name}\` is not on PATH; install it (uv: pip install uv) or set BATON_UV`);
}

/**
 * The shell wrapper run by `unshare -m`: mount an empty tmpfs over each hidden folder, then exec the
 * command, so the process the caller holds is the command itself (signals reach it directly).
 */
function wrapper(hidden: readonly string[]): string {
  const mounts = hidden.map((_, i) => `mount -t tmpfs none "\${${i + 1}}" || { echo "${HIDE_MARK} \${${i + 1}}" >&2; exit ${HIDE_FAILED}; }`);
  return `${mounts.join(" && ")} && shift ${hidden.length} && exec "$@"`;
}

let unshareChecked = false;

/** Fails once, loudly, where a private mount namespace cannot be made (the tests never skip). */
function assertUnshare(probe: string): void {
  if (unshareChecked) return;
  try {
    execFileSync("unshare", ["-m", "--propagation", "private", "sh", "-c", wrapper([probe]) , "sh", probe, "true"], { stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    throw new Error(
      `relocate: cannot make a private mount namespace (\`unshare -m\` + \`mount -t tmpfs\`): ${err.stderr?.toString().trim() || err.message}\n` +
        `  fix: run the relocation tests as root (or with CAP_SYS_ADMIN, e.g. a --privileged container) on Linux with util-linux's unshare`,
      { cause: e },
    );
  }
  unshareChecked = true;
}

/**
 * The test process's environment minus everything that could lead a command back to the sources
 * or to the real HOME's configuration (the HOME a command gets is fresh).
 */
function cleanEnv(hidden: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  const realHome = homedir();
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined) continue;
    if (["NODE_PATH", "PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "INIT_CWD", "OLDPWD"].includes(key)) continue;
    if (/^(npm_(config|package|lifecycle)_|PNPM_|XDG_)/i.test(key)) continue;
    const parts = value.split(delimiter);
    // BATON_VENV_ROOT, a PWD in the checkout, DAGSTER_HOME under ~…: a fresh machine has no such folder
    if (hidden.some((h) => parts.some((part) => inside(part, h)))) continue;
    if (realHome.length > 1 && parts.some((part) => inside(part, realHome))) continue;
    env[key] = value;
  }
  return env;
}

/**
 * Copy a build folder to a fresh temp folder and run commands there as on another machine: the
 * monorepo checkout and the original folder are hidden under empty tmpfs mounts in a private mount
 * namespace, HOME is empty, and PATH holds only the venv, node and the system folders. What still
 * works there is what the folder declares. The uv-managed or pyenv Python stays visible (venv
 * interpreters are symlinks to it), as it would be installed on the target machine.
 */
export function relocate(buildDir: string, options: RelocateOptions = {}): Relocated {
  const source = realpathSync(resolve(buildDir));
  const checkout = realpathSync(options.checkout ?? findCheckout());
  const parent = realpathSync(options.parent ?? tmpdir());
  const extra = (options.hide ?? []).filter((h) => existsSync(h)).map((h) => realpathSync(h));
  const hidden = [checkout, source, ...extra].filter((h, i, all) => !all.some((other, j) => j !== i && inside(h, other) && (h !== other || j < i)));
  if (hidden.some((h) => inside(parent, h)))
    throw new Error(`relocate: the temp folder parent ${parent} is inside the hidden ${hidden.find((h) => inside(parent, h))}; pass { parent } outside it (or set TMPDIR)`);
  const root = mkdtempSync(join(parent, "baton-relocated-"));
  const dir = join(root, basename(source));
  const home = join(root, "home");
  try {
    assertUnshare(checkout);
    // verbatimSymlinks: a link that points back into the sources must stay broken, not be "fixed"
    cpSync(source, dir, { recursive: true, verbatimSymlinks: true });
    mkdirSync(home);
  } catch (e) {
    rmSync(root, { recursive: true, force: true });
    throw e;
  }
  const children = new Set<ChildProcess>();
  const venvs: PythonEnv[] = [];

  const start = (cmd: string, args: readonly string[], opts: RelocatedRunOptions, stdio: StdioOptions): ChildProcess => {
    const venv = opts.venv === undefined ? venvs.at(-1) : opts.venv;
    const cwd = resolve(dir, opts.cwd ?? ".");
    // a working directory inside a hidden folder would still reach the real files: mounts do not move a cwd
    const under = hidden.find((h) => inside(existsSync(cwd) ? realpathSync(cwd) : cwd, h));
    if (under) throw new Error(`relocate: the working directory ${cwd} is inside the hidden ${under}; run \`${cmd}\` in the copy (${dir}) or its home`);
    const env: Record<string, string> = { ...cleanEnv(hidden) };
    for (const [k, v] of Object.entries(opts.env ?? {})) {
      if (v === undefined) delete env[k];
      else env[k] = v;
    }
    const path = [venv ? join(venv.dir, "bin") : undefined, ...(opts.path ?? []), dirname(process.execPath), ...SYSTEM_PATH].filter((p) => p !== undefined);
    // keep the last of duplicates: node in /usr/bin leaves the system order as it is
    Object.assign(env, { HOME: home, PWD: cwd, PATH: path.filter((p, i) => path.lastIndexOf(p) === i).join(delimiter) });
    // detached: its own process group, so a timeout or cleanup() also ends what the command started
    const child = spawnChild("unshare", ["-m", "--propagation", "private", "sh", "-c", wrapper(hidden), "sh", ...hidden, cmd, ...args], { cwd, env, stdio, detached: true });
    children.add(child);
    child.once("exit", () => children.delete(child));
    return child;
  };

  const run = (cmd: string, args: readonly string[], opts: RelocatedRunOptions = {}): Promise<RelocatedResult> =>
    new Promise((resolvePromise, reject) => {
      const child = start(cmd, args, opts, ["ignore", "pipe", "pipe"]);
      let stdout = "";
      let stderr = "";
      child.stdout?.setEncoding("utf8").on("data", (d: string) => (stdout += d));
      child.stderr?.setEncoding("utf8").on("data", (d: string) => (stderr += d));
      const timeoutMs = opts.timeoutMs ?? DEFAULT_RUN_MS;
      const timer = setTimeout(() => {
        killGroup(child);
        reject(new Error(`relocate: \`${cmd} ${args.join(" ")}\` in ${opts.cwd ?? dir} did not end within ${Math.round(timeoutMs / 1000)} s\n--- stdout\n${stdout.slice(-4000)}\n--- stderr\n${stderr.slice(-4000)}`));
      }, timeoutMs);
      child.once("error", (e) => {
        clearTimeout(timer);
        reject(new Error(`relocate: could not start unshare for \`${cmd}\`: ${e.message}`, { cause: e }));
      });
      child.once("close", (code, signal) => {
        clearTimeout(timer);
        if (code === HIDE_FAILED && stderr.includes(HIDE_MARK))
          reject(new Error(`relocate: the namespace could not hide the sources for \`${cmd}\`: ${stderr.trim()}`));
        else resolvePromise({ code, signal, stdout, stderr });
      });
    });

  const venv = async (requirementsFile: string, venvOptions: { timeoutMs?: number } = {}): Promise<PythonEnv> => {
    const requirements = resolve(dir, requirementsFile);
    if (!existsSync(requirements)) throw new Error(`relocate: no requirements file ${requirements} in the relocated build`);
    const venvDir = join(root, venvs.length === 0 ? "venv" : `venv-${venvs.length + 1}`);
    const uv = process.env.BATON_UV ?? onPath("uv");
    const python = pythonInterpreter(uv, options.python ?? "3.11");
    // uv runs inside the namespace too: the install may use only the folder, PyPI and uv's cache
    const uvEnv = { UV_CACHE_DIR: uvCacheDir(uv), UV_PYTHON_DOWNLOADS: "never" };
    const timeoutMs = venvOptions.timeoutMs ?? 900_000;
    for (const args of [
      ["venv", "--quiet", "--python", python, venvDir],
      ["pip", "install", "--quiet", "--python", join(venvDir, "bin", "python"), "-r", requirements],
    ]) {
      const r = await run(uv, args, { cwd: dirname(requirements), env: uvEnv, venv: null, timeoutMs });
      if (r.code !== 0)
        throw new Error(`relocate: \`uv ${args.join(" ")}\` failed (exit ${r.code}) for ${requirements}:\n${r.stderr.trim() || r.stdout.trim()}\n  fix: the build's requirements must install from its own wheels/ and the package index alone`);
    }
    const env: PythonEnv = { dir: venvDir, python: join(venvDir, "bin", "python"), bin: (tool) => join(venvDir, "bin", tool) };
    venvs.push(env);
    return env;
  };

  return {
    dir,
    home,
    checkout,
    venv,
    run,
    spawn: (cmd, args, opts = {}) => start(cmd, args, opts, opts.stdio ?? "pipe"),
    cleanup() {
      for (const child of children) killGroup(child);
      rmSync(root, { recursive: true, force: true });
    },
  };
}

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, "SIGKILL");
  } catch {
    child.kill("SIGKILL");
  }
}

/** uv's cache as the real HOME sees it: the fresh HOME must not force a second download. */
function uvCacheDir(uv: string): string {
  return process.env.UV_CACHE_DIR ?? execFileSync(uv, ["cache", "dir"], { encoding: "utf8" }).trim();
}

/** An absolute interpreter path, found with the real environment (pyenv, uv-managed Pythons). */
function pythonInterpreter(uv: string, python: string): string {
  if (isAbsolute(python)) return python;
  try {
    return execFileSync(uv, ["python", "find", python], { encoding: "utf8" }).trim();
  } catch (e) {
    throw new Error(`relocate: uv finds no Python ${python}: ${(e as Error).message}\n  fix: \`uv python install ${python}\``, { cause: e });
  }
}
