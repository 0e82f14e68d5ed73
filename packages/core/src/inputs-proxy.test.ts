import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { inputsProxy } from "./inputs-proxy.js";
import { caught as thrown } from "./__tests__/helpers.js";

const values = () => ({ orders: { rows: 3 }, customers: { rows: 2 } });

describe("inputsProxy", () => {
  it("throws on a name that is not an input, naming the inputs and the closest one", () => {
    const inputs = inputsProxy("customer_metrics", values()) as Record<string, unknown>;
    const e = thrown(() => {
      const { ordres } = inputs;
      return ordres;
    });
    expect(e.code).toBe("UNKNOWN_INPUT");
    expect(e.problem).toBe('asset "customer_metrics" has no input "ordres"; its inputs are orders, customers');
    expect(e.hint).toContain('did you mean "orders"?');
    expect(thrown(() => inputs.zzz).hint).not.toContain("did you mean");
    expect(thrown(() => (inputsProxy("raw", {}) as Record<string, unknown>).x).problem).toBe('asset "raw" has no input "x"; it has no inputs');
  });

  it("behaves as the plain object for everything else", async () => {
    const plain = values();
    const inputs = inputsProxy("customer_metrics", plain);
    const { orders, ...rest } = inputs;
    expect(orders).toBe(plain.orders);
    expect(rest).toEqual({ customers: plain.customers });
    expect({ ...inputs }).toEqual(plain);
    expect(Object.keys(inputs)).toEqual(["orders", "customers"]);
    expect(Object.entries(inputs)).toEqual(Object.entries(plain));
    expect("orders" in inputs).toBe(true);
    expect("ordres" in inputs).toBe(false);
    expect(JSON.stringify(inputs)).toBe(JSON.stringify(plain));
    // A thenable probe: awaiting it, or returning it from an async function, must not throw.
    expect(await Promise.resolve(inputs)).toBe(inputs);
    expect((inputs as Record<string, unknown>).then).toBeUndefined();
    expect(String(inputs)).toBe("[object Object]");
    expect(Object.prototype.hasOwnProperty.call(inputs, "orders")).toBe(true);
    // eslint-disable-next-line no-prototype-builtins -- what a user may write: Object.prototype's methods still resolve
    expect(inputs.hasOwnProperty("customers")).toBe(true);
    expect((inputs as Record<symbol, unknown>)[Symbol.iterator]).toBeUndefined();
    expect(inspect(inputs)).toContain("orders");
    expect(inputs).toEqual(plain);
  });
});
