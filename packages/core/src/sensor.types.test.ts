/**
 * Sensors (issue 14): resources as objects typed in the sensor's context, run requests whose selection takes
 * assets and helpers like schedules do. Type tests, and what they resolve to at run time.
 */
import pl from "nodejs-polars";
import { describe, expect, expectTypeOf, it } from "vitest";
import { asset } from "./asset.js";
import { definitions } from "./definitions.js";
import { resource } from "./resource.js";
import { sensor, type SensorRunRequest } from "./sensor.js";
import { downstream, group, key, tag, upstream } from "./selection.js";
import { evaluateSensorTick } from "./ticks.js";
import { validationErrors } from "./__tests__/helpers.js";

interface Bucket {
  list(after: string | undefined): string[];
}
const bucket = resource({ create: (): Bucket => ({ list: (after) => (after === undefined ? ["a.csv", "b.csv"] : []) }) });
const orders = asset({ key: ["sales", "orders"], group: "sales", tags: { tier: "gold" }, compute: () => pl.DataFrame({ x: [1] }) });
const report = asset({ key: "report", inputs: { orders }, compute: ({ orders }) => orders });

describe("sensor resources as objects", () => {
  it("are typed in the context, collected by definitions() and built for the tick", async () => {
    const s = sensor({
      name: "new_files",
      selection: orders,
      resources: { bucket },
      evaluate: ({ cursor, resources }) => {
        expectTypeOf(resources.bucket).toEqualTypeOf<Bucket>();
        // @ts-expect-error a resource the sensor does not declare
        void resources.warehouse;
        const files = resources.bucket.list(cursor);
        return files.length ? { runRequests: files.map((f) => ({ runKey: f })), cursor: files.at(-1) } : { skip: "nothing new" };
      },
    });
    expect(s.resources).toEqual(["bucket"]);
    const defs = definitions({ assets: [report], sensors: [s] });
    expect(defs.resources.bucket).toBe(bucket);
    const tick = await evaluateSensorTick(defs, "new_files", { env: {} });
    expect(tick.runRequests.map((r) => r.runKey)).toEqual(["a.csv", "b.csv"]);
  });

  it("names still work (unknown in the context); one name bound to two objects by an asset and a sensor is an error naming both", () => {
    sensor({
      name: "by_name",
      selection: "report",
      resources: ["bucket"],
      evaluate: ({ resources }) => {
        expectTypeOf(resources.bucket).toEqualTypeOf<unknown>();
        return { skip: "no" };
      },
    });
    const other = resource({ create: (): Bucket => ({ list: () => [] }) });
    const user = asset({ key: "user", resources: { bucket: other }, compute: () => pl.DataFrame({ x: [1] }) });
    const s = sensor({ name: "s", selection: "user", resources: { bucket }, evaluate: () => ({ skip: "no" }) });
    expect(validationErrors(() => definitions({ assets: [user], sensors: [s] })).map((e) => e.problem)).toEqual([
      expect.stringMatching(/^resource "bucket" is bound to two different resource objects: by sensor "s" and by asset "user"/),
    ]);
  });
});

describe("sensor run requests take assets and helpers", () => {
  it("resolves each request's selection to the string syntax, as schedules do", async () => {
    const requests: SensorRunRequest[] = [
      { selection: report, runKey: "asset" },
      { selection: upstream(report), runKey: "up" },
      { selection: [downstream(orders), group("sales")], runKey: "many" },
      { selection: tag("tier", "gold"), runKey: "tag" },
      { selection: key("sales/orders"), runKey: "key" },
      { selection: "report", runKey: "string" },
      { runKey: "default" },
    ];
    const s = sensor({ name: "helpers", selection: report, evaluate: async () => ({ runRequests: requests }) });
    expect(await s.evaluate({ cursor: undefined, now: new Date(), resources: {}, log: console as never })).toEqual({
      runRequests: [
        { selection: "report", runKey: "asset" },
        { selection: "+report", runKey: "up" },
        { selection: "sales/orders+ group:sales", runKey: "many" },
        { selection: "tag:tier=gold", runKey: "tag" },
        { selection: "sales/orders", runKey: "key" },
        { selection: "report", runKey: "string" },
        { runKey: "default" },
      ],
    });
    const tick = await evaluateSensorTick(definitions({ assets: [report], sensors: [s] }), "helpers", { env: {} });
    expect(tick.runRequests.map((r) => [r.runKey, r.assets])).toEqual([
      ["asset", ["report"]],
      ["up", ["sales/orders", "report"]],
      ["many", ["sales/orders", "report"]],
      ["tag", ["sales/orders"]],
      ["key", ["sales/orders"]],
      ["string", ["report"]],
      ["default", ["report"]],
    ]);
  });

  it("types the selection as schedules take it", () => {
    sensor({
      name: "typed",
      selection: [upstream(report), "group:sales"],
      evaluate: () => ({
        runRequests: [
          { selection: [report, downstream(orders, 1)] },
          // @ts-expect-error a selection is a string, an asset, a helper or an array of them
          { selection: 42 },
        ],
      }),
    });
  });
});
