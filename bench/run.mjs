// Runs every benchmark side by side in one process tree and prints their figures.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const benches = [["core", ["pnpm", "exec", "tsx", "core.ts"], join(root, "bench")]];
for (const pkg of ["adapter-dagster", "adapter-airflow", "adapter-prefect"]) {
  const dir = join(root, "packages", pkg, "bench");
  if (!existsSync(dir)) continue;
  for (const f of readdirSync(dir).filter((f) => /\.(mjs|ts)$/.test(f)).sort()) {
    benches.push([`${pkg}/${f}`, f.endsWith(".ts") ? ["pnpm", "exec", "tsx", join(dir, f)] : ["node", join(dir, f)], join(root, "packages", pkg)]);
  }
}
let failed = 0;
for (const [name, cmd, cwd] of benches) {
  console.log(`\n=== ${name} ===`);
  const r = spawnSync(cmd[0], cmd.slice(1), { cwd, stdio: "inherit", env: { ...process.env, BATON_VENV_ROOT: process.env.BATON_VENV_ROOT ?? join(root, ".venvs") } });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
