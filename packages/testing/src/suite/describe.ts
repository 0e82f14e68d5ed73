import { afterAll, beforeAll, describe, it } from "vitest";
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalIOStore } from "@baton/core";
import { fixtureModulePath } from "../fixtures/path.js";
import { CASES, type CaseContext } from "./cases.js";
import { CAPABILITIES, type Capability, type HarnessEnvironment, type RuntimeHarness } from "./harness.js";
import { formatReport, type ReportRow } from "./report.js";

export interface ConformanceOptions {
  /** What the runtime supports; every case needing anything else is reported "n/a", not run. */
  readonly capabilities: readonly Capability[];
  /** Folder for conformance-report.<name>.json; BATON_CONFORMANCE_DIR or the cwd by default. */
  readonly reportDir?: string;
  /** Per-case timeout; orchestrators are slower than the embedded executor. */
  readonly timeoutMs?: number;
}

/** Fresh folders and variables for one suite run; secrets are random per run. */
export function makeHarnessEnvironment(): HarnessEnvironment {
  const root = mkdtempSync(join(tmpdir(), "baton-conformance-"));
  const storageDir = join(root, "storage");
  const workDir = join(root, "work");
  const configDir = join(root, "config");
  for (const d of [storageDir, workDir, configDir]) mkdirSync(d, { recursive: true });
  return {
    fixtureModule: fixtureModulePath(),
    exportName: "default",
    storageDir,
    workDir,
    configDir,
    env: {
      BATON_STORAGE: storageDir,
      FIXTURE_API_URL: "https://audit.example.test/v1",
      FIXTURE_API_TOKEN: `tok-${Math.random().toString(36).slice(2)}`,
      FIXTURE_AUDIT_DIR: join(root, "audit"),
      FIXTURE_LANDING_DIR: join(root, "landing"),
      FIXTURE_CONTROL_DIR: join(root, "control"),
    },
  };
}

/**
 * Register the conformance suite for one runtime (Effect's shared-suite pattern): each runtime's
 * test file calls this with its own harness, and the cases are the same for all of them.
 */
export function describeConformance(name: string, harness: RuntimeHarness, options: ConformanceOptions): void {
  const supported = new Set(options.capabilities);
  for (const c of supported) if (!CAPABILITIES.includes(c)) throw new Error(`unknown capability "${c}"; known: ${CAPABILITIES.join(", ")}`);
  const rows: ReportRow[] = CASES.map((c) => ({ case: c.name, capability: c.capability, result: supported.has(c.capability) ? "not run" : "n/a" }));
  let ctx: CaseContext | undefined;

  describe(`conformance: ${name}`, () => {
    beforeAll(async () => {
      const environment = makeHarnessEnvironment();
      await harness.setup(environment);
      ctx = { harness, environment, store: new LocalIOStore(environment.storageDir) };
    }, options.timeoutMs ?? 600_000);

    afterAll(async () => {
      await harness.teardown();
      const dir = options.reportDir ?? process.env.BATON_CONFORMANCE_DIR ?? process.cwd();
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, `conformance-report.${name}.json`), JSON.stringify({ runtime: name, capabilities: [...supported], cases: rows }, null, 2) + "\n");
      process.stdout.write(`\n${formatReport(name, rows)}\n`);
    }, 120_000);

    CASES.forEach((c, i) => {
      // A case the runtime cannot honour is listed in the report as n/a, never run and never green.
      if (!supported.has(c.capability)) return;
      it(
        c.name,
        async () => {
          const started = performance.now();
          try {
            await c.run(ctx!);
            rows[i] = { ...rows[i]!, result: "pass", ms: Math.round(performance.now() - started) };
          } catch (e) {
            rows[i] = { ...rows[i]!, result: "fail", ms: Math.round(performance.now() - started), error: (e as Error).message?.split("\n")[0] };
            throw e;
          }
        },
        options.timeoutMs ?? 300_000,
      );
    });
  });
}
