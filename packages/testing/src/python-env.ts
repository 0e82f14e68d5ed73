import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, isAbsolute, join, resolve } from "node:path";
import { withFileLock } from "./lock.js";

export interface PythonEnv {
  readonly dir: string;
  readonly python: string;
  readonly bin: (tool: string) => string;
}

export interface PythonEnvOptions {
  /** Folder prefix under the root ("dagster" → `.venvs/dagster-<hash>`). */
  readonly name: string;
  /** The pinned requirements file; its hash names the environment. */
  readonly requirements: string;
  /** Wheel files (absolute paths) installed over the pins, reinstalled whenever their bytes change. */
  readonly wheels?: readonly string[];
  /** Where environments live (default BATON_VENV_ROOT, else `.venvs` in the working directory). */
  readonly root?: string;
  /** Python version for uv (default 3.11). */
  readonly python?: string;
  /** How long to wait for another process building or updating the same environment (default 20 min). */
  readonly lockTimeoutMs?: number;
}

const READY = ".baton-ready";
const WHEELS = ".baton-wheels";

function fail(options: PythonEnvOptions, what: string, e: unknown): never {
  throw new Error(
    `could not ${what} in the ${options.name} virtual environment (${options.requirements}): ${(e as Error).message}\n` +
      `  fix: install uv (pip install uv) and make sure PyPI is reachable; tests never skip for a missing orchestrator`,
    { cause: e },
  );
}

/** One line per wheel, "<sha256>  <file name>", sorted: the marker of what is installed. */
function wheelListing(wheels: readonly string[]): string {
  return wheels
    .map((w) => `${createHash("sha256").update(readFileSync(w)).digest("hex")}  ${basename(w)}\n`)
    .sort()
    .join("");
}

/**
 * `<root>/<name>-<hash>`: a folder named by the hash of what is pinned in it (a requirements file, a POM…), so that
 * a changed pin gets a fresh folder and an unchanged one is reused. Root: BATON_VENV_ROOT, else `.venvs` in the
 * working directory.
 */
export function pinnedDir(name: string, pins: readonly (string | Uint8Array)[], root?: string): string {
  const hash = createHash("sha256");
  for (const pin of pins) hash.update(pin);
  return join(resolve(root ?? process.env.BATON_VENV_ROOT ?? join(process.cwd(), ".venvs")), `${name}-${hash.digest("hex").slice(0, 12)}`);
}

function readOr(file: string, fallback: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return fallback;
  }
}

/**
 * A virtual environment made with uv from a pinned requirements file, reused while the file is
 * unchanged, with the given Baton wheels installed over it. Integration tests call this instead of
 * assuming an orchestrator is installed: a machine without uv or without the registry fails loudly
 * here, it never skips. Test files in several processes may ask for the same environment at once:
 * creation and wheel installs happen under a lock file next to it.
 */
export function ensurePythonEnv(options: PythonEnvOptions): PythonEnv {
  const requirements = readFileSync(options.requirements, "utf8");
  const version = options.python ?? "3.11";
  const dir = pinnedDir(options.name, [requirements, version], options.root);
  const root = dirname(dir);
  const python = join(dir, "bin", "python");
  const env: PythonEnv = { dir, python, bin: (tool) => join(dir, "bin", tool) };
  const wheels = options.wheels ?? [];
  for (const w of wheels) {
    if (!isAbsolute(w) || !existsSync(w))
      throw new Error(`ensurePythonEnv(${options.name}): wheel ${w} is not an existing absolute path; build the package that ships it first`);
  }
  const listing = wheelListing(wheels);
  const upToDate = (): boolean => existsSync(join(dir, READY)) && (wheels.length === 0 || readOr(join(dir, WHEELS), "") === listing);
  if (upToDate()) return env;

  mkdirSync(root, { recursive: true });
  const uv = process.env.BATON_UV ?? "uv";
  withFileLock(`${dir}.lock`, { what: `the ${options.name} virtual environment ${dir}`, timeoutMs: options.lockTimeoutMs }, () => {
    // another process may have finished the work while this one waited
    if (upToDate()) return;
    if (!existsSync(join(dir, READY))) {
      // Scripts in a venv hold its absolute path, so it is built in place; the marker written last
      // tells a finished environment from one an interrupted install left behind.
      rmSync(dir, { recursive: true, force: true });
      try {
        execFileSync(uv, ["venv", "--quiet", "--python", version, dir], { stdio: "inherit" });
        execFileSync(uv, ["pip", "install", "--quiet", "--python", python, "-r", resolve(options.requirements)], { stdio: "inherit" });
      } catch (e) {
        fail(options, "install the pinned requirements", e);
      }
      writeFileSync(join(dir, READY), requirements);
    }
    if (wheels.length === 0) return;
    // the marker goes first: an install interrupted half-way must be redone next time
    rmSync(join(dir, WHEELS), { force: true });
    try {
      execFileSync(uv, ["pip", "install", "--quiet", "--reinstall", "--no-deps", "--python", python, ...wheels], { stdio: "inherit" });
    } catch (e) {
      fail(options, `install the wheels ${wheels.map((w) => basename(w)).join(", ")}`, e);
    }
    writeFileSync(join(dir, `${WHEELS}.tmp`), listing);
    renameSync(join(dir, `${WHEELS}.tmp`), join(dir, WHEELS));
  });
  return env;
}
