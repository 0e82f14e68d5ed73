import { describe, expect, it } from "vitest";
import { fileURLToPath } from "node:url";
import { ESLint } from "eslint";

// The architecture's first two principles are lint rules; prove the rules fire.
const repo = fileURLToPath(new URL("../../..", import.meta.url));
const eslint = new ESLint({ cwd: repo });
const problems = async (code: string, filePath: string) =>
  (await eslint.lintText(code, { filePath })).flatMap((r) => r.messages.filter((m) => m.ruleId === "no-restricted-imports").map((m) => m.message));

describe("import boundaries", () => {
  it("core may not import an adapter or anything named after an orchestrator", async () => {
    const file = `${repo}packages/core/src/probe.ts`;
    const adapter = await problems(`import x from "@baton/adapter-dagster";\nexport default x;\n`, file);
    expect(adapter.length).toBeGreaterThan(0);
    for (const m of adapter) expect(m).toMatch(/core must not import (adapters or testing|anything named after dagster)/);
    expect((await problems(`import { describeConformance } from "@baton/testing";\nexport default describeConformance;\n`, file))[0]).toContain("core must not import adapters or testing");
    expect((await problems(`import x from "prefect-client";\nexport default x;\n`, file))[0]).toContain("prefect");
    expect((await problems(`import x from "./airflow-helpers.js";\nexport default x;\n`, file))[0]).toContain("airflow");
    expect(await problems(`import pl from "nodejs-polars";\nexport default pl;\n`, file)).toEqual([]);
  });

  it("example business logic may not import Baton", async () => {
    const file = `${repo}examples/customer-metrics/src/logic/probe.ts`;
    expect((await problems(`import { asset } from "@baton/core";\nexport default asset;\n`, file))[0]).toContain("business logic imports no Baton");
    expect(await problems(`import { asset } from "@baton/core";\nexport default asset;\n`, `${repo}examples/customer-metrics/src/definitions2.ts`)).toEqual([]);
  });
});
