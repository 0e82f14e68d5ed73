import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { run } from "./exec.js";

export interface ReadmeProject {
  /** Asset keys the project defines, in dependency order. */
  readonly assets: readonly string[];
  /** Rows each asset must produce. */
  readonly rowCounts: Readonly<Record<string, number>>;
  /** The nodejs-polars range the installed @baton/core depends on (the user installs the same). */
  readonly polarsRange: string;
}

const METRICS = `import pl from "nodejs-polars";

// Business logic: no Baton, no orchestrator.
export function calculateCustomerMetrics(orders: pl.DataFrame, customers: pl.DataFrame): pl.DataFrame {
  return orders
    .join(customers, { on: "customer_id" })
    .groupBy("customer_id")
    .agg(pl.col("amount").sum().alias("total_spend"), pl.col("order_id").count().alias("order_count"))
    .sort("customer_id");
}
`;

const DEFINITIONS = `import pl from "nodejs-polars";
import { asset, definitions } from "@baton/core";
import { calculateCustomerMetrics } from "./logic/metrics.js";

const orders = asset({
  key: "orders",
  compute: () =>
    pl.DataFrame({
      order_id: [1, 2, 3, 4, 5],
      customer_id: [1, 1, 2, 3, 3],
      amount: [100, 50.5, 7, 12, 30],
    }),
});

const customers = asset({
  key: "customers",
  compute: () => pl.DataFrame({ customer_id: [1, 2, 3], name: ["Ada", "Grace", "Alan"] }),
});

const customerMetrics = asset({
  key: "customer_metrics",
  inputs: { orders, customers },
  compute: ({ orders, customers }) => calculateCustomerMetrics(orders, customers),
});

export default definitions({ assets: [orders, customers, customerMetrics] });
`;

/**
 * Turn `dir` (where @baton/core is installed) into the project a new user writes from the README:
 * `"baton": { "definitions": "./src/definitions.ts" }` in package.json, pure logic in
 * src/logic/metrics.ts and the declarations around it in src/definitions.ts.
 */
export function writeReadmeProject(dir: string): ReadmeProject {
  const pkgPath = join(dir, "package.json");
  const pkg = JSON.parse(readFileSync(pkgPath, "utf8")) as Record<string, unknown>;
  writeFileSync(pkgPath, JSON.stringify({ ...pkg, baton: { definitions: "./src/definitions.ts" } }, null, 2) + "\n");
  mkdirSync(join(dir, "src", "logic"), { recursive: true });
  writeFileSync(join(dir, "src", "logic", "metrics.ts"), METRICS);
  writeFileSync(join(dir, "src", "definitions.ts"), DEFINITIONS);
  const core = JSON.parse(readFileSync(join(dir, "node_modules", "@baton", "core", "package.json"), "utf8")) as { dependencies?: Record<string, string> };
  const polarsRange = core.dependencies?.["nodejs-polars"];
  if (!polarsRange) throw new Error("the installed @baton/core declares no nodejs-polars dependency");
  return { assets: ["orders", "customers", "customer_metrics"], rowCounts: { orders: 5, customers: 3, customer_metrics: 3 }, polarsRange };
}

/**
 * nodejs-polars loads its native code from a platform package (e.g. nodejs-polars-linux-x64-gnu)
 * that it lists as an optional dependency and that declares `engines.node >= 22`. npm skips an
 * optional dependency whose engines do not match, so on Node 20 `import pl from "nodejs-polars"`
 * fails with "Cannot find module 'nodejs-polars-<platform>'". A Node 20 user has to install that
 * package by name (npm then only warns). Returns the package installed, or undefined when none
 * was missing. On Node ≥ 22 a missing binary is an error.
 */
export async function ensurePolarsBinary(dir: string, install: (spec: string) => Promise<unknown>): Promise<string | undefined> {
  const probe = await run(process.execPath, ["--input-type=module", "-e", 'await import("nodejs-polars")'], { cwd: dir, allowFailure: true, timeoutMs: 120_000 });
  if (probe.code === 0) return undefined;
  const missing = /Cannot find module '(nodejs-polars-[^']+)'/.exec(probe.stderr)?.[1];
  if (!missing || Number(process.versions.node.split(".")[0]) >= 22) throw new Error(`nodejs-polars does not load in ${dir}:\n${probe.stderr.slice(-3000)}`);
  const polars = JSON.parse(readFileSync(join(dir, "node_modules", "nodejs-polars", "package.json"), "utf8")) as { version: string };
  await install(`${missing}@${polars.version}`);
  return missing;
}
