import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

export interface PythonEnv {
  readonly dir: string;
  readonly python: string;
  readonly bin: (tool: string) => string;
}

/**
 * A virtual environment made with uv from a pinned requirements file, reused while the file is
 * unchanged. Integration tests call this instead of assuming an orchestrator is installed: a
 * machine without uv or without the registry fails loudly here, it never skips.
 */
export function ensurePythonEnv(options: { name: string; requirements: string; root?: string; python?: string }): PythonEnv {
  const requirements = readFileSync(options.requirements, "utf8");
  const hash = createHash("sha256").update(requirements).update(options.python ?? "3.11").digest("hex").slice(0, 12);
  const root = resolve(options.root ?? process.env.BATON_VENV_ROOT ?? join(process.cwd(), ".venvs"));
  const dir = join(root, `${options.name}-${hash}`);
  const python = join(dir, "bin", "python");
  const env: PythonEnv = { dir, python, bin: (tool) => join(dir, "bin", tool) };
  if (existsSync(join(dir, ".baton-ready"))) return env;
  // Scripts in a venv hold its absolute path, so it is built in place; the marker written last
  // tells a finished environment from one an interrupted install left behind.
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  const uv = process.env.BATON_UV ?? "uv";
  try {
    execFileSync(uv, ["venv", "--quiet", "--python", options.python ?? "3.11", dir], { stdio: "inherit" });
    execFileSync(uv, ["pip", "install", "--quiet", "--python", python, "-r", resolve(options.requirements)], { stdio: "inherit" });
  } catch (e) {
    throw new Error(
      `could not create the ${options.name} virtual environment from ${options.requirements}: ${(e as Error).message}\n` +
        `  fix: install uv (pip install uv) and make sure PyPI is reachable; tests never skip for a missing orchestrator`,
      { cause: e },
    );
  }
  writeFileSync(join(dir, ".baton-ready"), requirements);
  return env;
}
