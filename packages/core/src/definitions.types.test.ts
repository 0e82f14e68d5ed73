/**
 * What `definitions()` collects from the asset objects (issue 14): resources declared as objects
 * (the record key is the name) and assets reachable through inputs and deps.
 */
import pl from "nodejs-polars";
import { describe, expect, expectTypeOf, it } from "vitest";
import { asset, input } from "./asset.js";
import { definitions, type DefinitionsInput } from "./definitions.js";
import { BatonValidationError } from "./errors.js";
import { resource, type ResourceDefinition } from "./resource.js";

const frame = () => pl.DataFrame({ a: [1] });
const store = (label: string) => resource({ create: () => ({ label }) });

function problems(f: () => unknown): string[] {
  try {
    f();
  } catch (e) {
    if (e instanceof BatonValidationError) return e.errors.map((x) => `${x.code} ${x.asset ?? ""}: ${x.problem}`);
    throw e;
  }
  return [];
}

describe("resources as objects", () => {
  it("are collected by name from the assets, merged with definitions({ resources })", () => {
    const warehouse = store("w");
    const legacy = store("l");
    const a = asset({ key: "a", resources: { warehouse }, compute: frame });
    const b = asset({ key: "b", resources: { warehouse }, inputs: { a }, compute: ({ a }) => a });
    const c = asset({ key: "c", resources: ["legacy"], compute: frame });
    const defs = definitions({ assets: [a, b, c], resources: { legacy } });
    expect(defs.resources).toEqual({ legacy, warehouse });
    expect(defs.resources.warehouse).toBe(warehouse);
    expect(defs.asset("b").resources).toEqual(["warehouse"]);
  });

  it("one name bound to two different objects is an error naming both assets", () => {
    const a = asset({ key: "a", resources: { warehouse: store("1") }, compute: frame });
    const b = asset({ key: "b", resources: { warehouse: store("2") }, compute: frame });
    expect(problems(() => definitions({ assets: [a, b] }))).toEqual([
      expect.stringMatching(/^DUPLICATE_KEY b: resource "warehouse" is bound to two different resource objects: by asset "b" and by asset "a"/),
    ]);
    expect(problems(() => definitions({ assets: [a], resources: { warehouse: store("3") } }))).toEqual([
      'DUPLICATE_KEY a: resource "warehouse" is bound to two different resource objects: by asset "a" and by definitions({ resources })',
    ]);
  });

  it("the same object under one name in definitions({ resources }) is fine", () => {
    const warehouse = store("w");
    const a = asset({ key: "a", resources: { warehouse }, compute: frame });
    expect(definitions({ assets: [a], resources: { warehouse } }).resources).toEqual({ warehouse });
  });

  it("a name nobody provides is still MISSING_RESOURCE", () => {
    const a = asset({ key: "a", resources: ["nowhere"], compute: frame });
    expect(problems(() => definitions({ assets: [a] }))).toEqual([expect.stringMatching(/^MISSING_RESOURCE a: asset "a" needs resource "nowhere"/)]);
  });

  it("resources stay typed as given", () => {
    expectTypeOf<DefinitionsInput["resources"]>().toEqualTypeOf<Readonly<Record<string, ResourceDefinition<any, any>>> | undefined>();
  });
});

describe("assets reachable through inputs and deps", () => {
  const raw = asset({ key: ["sales", "raw"], compute: frame });
  const clean = asset({ key: "clean", inputs: { raw: input(raw, { as: "polars" }) }, compute: ({ raw }) => raw });
  const report = asset({ key: "report", deps: [clean], inputs: { again: "sales/raw" }, output: "none", compute: () => undefined });

  it("are collected without being listed, in dependency order", () => {
    expect(definitions({ assets: [report] }).assets.map((a) => a.id)).toEqual(["sales/raw", "clean", "report"]);
  });

  it("the same object listed twice, or listed and reached, is fine", () => {
    expect(definitions({ assets: [report, raw, clean, raw] }).assets.map((a) => a.id)).toEqual(["sales/raw", "clean", "report"]);
  });

  it("two objects with one key stay DUPLICATE_KEY", () => {
    const other = asset({ key: ["sales", "raw"], compute: frame });
    expect(problems(() => definitions({ assets: [report, other] }))).toEqual([expect.stringMatching(/^DUPLICATE_KEY sales\/raw: the key is declared twice/)]);
  });

  it("an input named by key alone must still be listed", () => {
    const byKey = asset({ key: "by_key", inputs: { raw: "sales/raw" }, compute: ({ raw }) => raw });
    expect(problems(() => definitions({ assets: [byKey] }))).toEqual([expect.stringMatching(/^UNKNOWN_INPUT by_key: input "raw" names "sales\/raw"/)]);
  });
});
