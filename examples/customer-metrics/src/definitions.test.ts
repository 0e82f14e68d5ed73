import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import pl from "nodejs-polars";
import { LocalIOStore, materialize } from "@baton/core";
import defs, { PUBLISHED_PATH } from "./definitions.js";

// The definitions on the embedded executor, as `make example` runs them: the published asset writes through the
// StorageClient resource (a folder here; s3:// is the same protocol, covered by @baton/testing's moto test).
describe("customer-metrics on the embedded executor", () => {
  const tmp = mkdtempSync(join(tmpdir(), "customer-metrics-"));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
  const run = (selection: string, warehouse: string) =>
    materialize(defs, { selection, store: new LocalIOStore(join(tmp, "storage")), env: { ...process.env, WAREHOUSE_URL: warehouse }, sleep: async () => {} });

  it("publishes customer_metrics as CSV through the StorageClient at WAREHOUSE_URL", async () => {
    const warehouse = join(tmp, "warehouse");
    const result = await run("+published_metrics", warehouse);
    expect(result.failure).toBeNull();
    expect(result.assets.published_metrics?.status).toBe("success");
    const published = pl.readCSV(readFileSync(join(warehouse, PUBLISHED_PATH), "utf8"));
    expect(published.columns).toEqual(["customer_id", "total_spend", "order_count"]);
    // One row per customer with an order; the generator spreads 10,000 orders over 1,000 customers.
    expect(published.height).toBeGreaterThan(900);
    expect(published.getColumn("order_count").sum()).toBe(Number(process.env.CUSTOMER_METRICS_ROWS ?? 10_000));
  });

  it("runs the standalone check orders_have_customers in a check step of its own, after orders and customers", async () => {
    const result = await run("orders customers", join(tmp, "unused"));
    expect(result.failure).toBeNull();
    expect(result.assets.orders?.checks).toEqual([{ check: "orders_have_customers", partitionKey: null, passed: true, severity: "error" }]);
  });

  it("runs the check alone against stored outputs, and names the missing input when customers was never stored", async () => {
    const alone = await materialize(defs, { selection: "orders", checksOnly: true, checks: ["orders_have_customers"], store: new LocalIOStore(join(tmp, "storage")), env: process.env });
    expect(alone.assets.orders?.materializations).toEqual([]);
    expect(alone.assets.orders?.checks.map((c) => [c.check, c.passed])).toEqual([["orders_have_customers", true]]);

    const empty = new LocalIOStore(join(tmp, "orders-only"));
    await materialize(defs, { selection: "orders", checks: [], store: empty, env: process.env });
    const missing = await materialize(defs, { selection: "orders", checksOnly: true, checks: ["orders_have_customers"], store: empty, env: process.env });
    expect(missing.status).toBe("failure");
    expect(missing.failure?.error?.code).toBe("MISSING_OUTPUT");
    expect(missing.failure?.error?.message).toContain("customers");
  });

  it("a WAREHOUSE_URL with an unsupported scheme fails the publishing step, naming the variable", async () => {
    const result = await run("published_metrics", "ftp://somewhere/wh");
    expect(result.assets.published_metrics?.status).toBe("failure");
    expect(result.failure?.error?.message).toContain("WAREHOUSE_URL");
  });
});
