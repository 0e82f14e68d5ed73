// Runs every benchmark one after the other in one run, so their figures are taken on the same
// machine state: core's (this folder) and each adapter's own `bench` script.
import { spawnSync } from "node:child_process";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const env = { ...process.env, BATON_VENV_ROOT: process.env.BATON_VENV_ROOT ?? join(root, ".venvs") };
const benches = [
  ["core: embedded executor and customer-metrics at 1M orders", ["pnpm", "exec", "tsx", "core.ts"], join(root, "bench")],
  ["core: customer-metrics compute at 1M orders, nodejs-polars eager and lazy next to Python polars", ["pnpm", "exec", "tsx", "customer-metrics.ts"], join(root, "bench")],
  ["core: IO store write and read of a 1M-row output, local and s3 (moto) side by side", ["pnpm", "exec", "tsx", "storage.ts"], join(root, "bench")],
  ...["dagster", "airflow", "prefect"].map((o) => [`adapter-${o}`, ["pnpm", "--filter", `@baton/adapter-${o}`, "run", "bench"], root]),
];
let failed = 0;
for (const [name, cmd, cwd] of benches) {
  console.log(`\n=== ${name} ===`);
  const r = spawnSync(cmd[0], cmd.slice(1), { cwd, stdio: "inherit", env });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
