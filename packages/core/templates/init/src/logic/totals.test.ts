import pl from "nodejs-polars";
import { describe, expect, it } from "vitest";
import { totalsByCustomer } from "./totals.js";

// Orchestrator-agnostic: plain frames in, plain frames out.
describe("totalsByCustomer", () => {
  it("sums spend and counts orders per customer", () => {
    const orders = pl.DataFrame({ order_id: [1, 2, 3], customer_id: [1, 1, 2], amount: [100, 50.5, 7] });
    expect(totalsByCustomer(orders).toRecords()).toEqual([
      { customer_id: 1, total_spend: 150.5, order_count: 2 },
      { customer_id: 2, total_spend: 7, order_count: 1 },
    ]);
  });
});
