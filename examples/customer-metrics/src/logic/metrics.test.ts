import { describe, expect, it } from "vitest";
import pl from "nodejs-polars";
import { calculateCustomerMetrics, ordersWithoutCustomer, summarizeDay } from "./metrics.js";
import { generateOrders } from "./generate.js";

// Orchestrator-agnostic unit tests, in the seed's style: plain frames in, plain frames out.
describe("calculateCustomerMetrics", () => {
  it("sums spend and counts orders per customer", () => {
    const orders = pl.DataFrame({ order_id: [1, 2, 3], customer_id: [1, 1, 2], amount: [100, 50.5, 7] });
    const customers = pl.DataFrame({ customer_id: [1, 2], name: ["Alice", "Bob"] });
    const result = calculateCustomerMetrics(orders, customers);
    expect(result.toRecords()).toEqual([
      { customer_id: 1, total_spend: 150.5, order_count: 2 },
      { customer_id: 2, total_spend: 7, order_count: 1 },
    ]);
  });

  it("drops orders of unknown customers (inner join)", () => {
    const orders = pl.DataFrame({ order_id: [1, 2], customer_id: [1, 99], amount: [100, 1] });
    const customers = pl.DataFrame({ customer_id: [1], name: ["Alice"] });
    expect(calculateCustomerMetrics(orders, customers).getColumn("total_spend").toArray()).toEqual([100]);
  });
});

describe("ordersWithoutCustomer", () => {
  it("counts the orders of unknown customers, 0 when every customer exists", () => {
    const customers = pl.DataFrame({ customer_id: [1, 2], name: ["Alice", "Bob"] });
    expect(ordersWithoutCustomer(pl.DataFrame({ order_id: [1, 2, 3], customer_id: [1, 99, 98] }), customers)).toBe(2);
    expect(ordersWithoutCustomer(pl.DataFrame({ order_id: [1, 2], customer_id: [2, 2] }), customers)).toBe(0);
  });
});

describe("summarizeDay", () => {
  it("counts and sums one day only", () => {
    const orders = pl.DataFrame({ order_id: [1, 2, 3], amount: [1.25, 2.5, 10], order_date: ["2024-01-01", "2024-01-01", "2024-01-02"] });
    expect(summarizeDay(orders, "2024-01-01").toRecords()).toEqual([{ day: "2024-01-01", orders: 2, revenue: 3.75 }]);
    expect(summarizeDay(orders, "2024-01-03").toRecords()).toEqual([{ day: "2024-01-03", orders: 0, revenue: 0 }]);
  });
});

describe("generateOrders", () => {
  it("is deterministic and scales", () => {
    const a = generateOrders(1000, { customers: 10, start: "2024-01-01", days: 7 });
    const b = generateOrders(1000, { customers: 10, start: "2024-01-01", days: 7 });
    expect(a.height).toBe(1000);
    expect(a.frameEqual(b)).toBe(true);
    expect(new Set(a.getColumn("order_date").toArray()).size).toBe(7);
  });
});
