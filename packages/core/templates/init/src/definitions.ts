import pl from "nodejs-polars";
import { asset, definitions } from "@baton/core";
import { totalsByCustomer } from "./logic/totals.js";

// Declarations only: each asset names its inputs and calls plain logic from ./logic.
const orders = asset({
  key: "orders",
  description: "Orders (replace with a read from your source)",
  compute: () =>
    pl.DataFrame({
      order_id: [1, 2, 3, 4, 5],
      customer_id: [1, 1, 2, 3, 3],
      amount: [100, 50.5, 7, 12, 30],
    }),
});

const customerTotals = asset({
  key: "customer_totals",
  description: "Total spend and order count per customer",
  inputs: { orders },
  compute: ({ orders }) => totalsByCustomer(orders),
});

export default definitions({ assets: [orders, customerTotals] });
