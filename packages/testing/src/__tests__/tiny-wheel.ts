import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * Build `baton_tiny-<version>-py3-none-any.whl` with uv (uv_build backend), whose module holds
 * `VALUE = "<value>"`, into `outDir`; returns the wheel's absolute path.
 */
export function buildTinyWheel(workDir: string, outDir: string, value: string, version = "0.1.0"): string {
  const src = join(workDir, `tiny-src-${value}`);
  mkdirSync(join(src, "baton_tiny"), { recursive: true });
  writeFileSync(
    join(src, "pyproject.toml"),
    [
      "[project]",
      'name = "baton-tiny"',
      `version = "${version}"`,
      'requires-python = ">=3.9"',
      "",
      "[build-system]",
      'requires = ["uv_build>=0.13,<0.14"]',
      'build-backend = "uv_build"',
      "",
      "[tool.uv.build-backend]",
      'module-name = "baton_tiny"',
      'module-root = ""',
      "",
    ].join("\n"),
  );
  writeFileSync(join(src, "baton_tiny", "__init__.py"), `VALUE = "${value}"\n`);
  mkdirSync(outDir, { recursive: true });
  execFileSync(process.env.BATON_UV ?? "uv", ["build", "--wheel", "--quiet", "--out-dir", outDir, src], { stdio: "inherit" });
  const wheel = readdirSync(outDir).find((f) => f === `baton_tiny-${version}-py3-none-any.whl`);
  if (!wheel) throw new Error(`uv build wrote no baton_tiny wheel into ${outDir}`);
  return join(outDir, wheel);
}
