import { afterAll, beforeAll, describe, it } from "vitest";
import { randomUUID } from "node:crypto";
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore } from "@baton/core";
import { fixtureModulePath } from "../fixtures/path.js";
import { startIcebergCatalog, type IcebergCatalogServer } from "../iceberg-catalog.js";
import { startMoto, type MotoServer } from "../moto.js";
import { CASES, type CaseContext } from "./cases.js";
import { CAPABILITIES, type Capability, type HarnessEnvironment, type RuntimeHarness } from "./harness.js";
import { formatReport, type ReportRow } from "./report.js";

/** Where a suite run keeps its outputs: today's local folder, or a bucket on a moto server it starts. */
export type ConformanceStorage = "local" | "s3";

export interface ConformanceOptions {
  /** What the runtime supports; every case needing anything else is reported "n/a", not run. */
  readonly capabilities: readonly Capability[];
  /** Folder for conformance-report.<name>.json; BATON_CONFORMANCE_DIR or the cwd by default. */
  readonly reportDir?: string;
  /** Per-case timeout; orchestrators are slower than the embedded executor. */
  readonly timeoutMs?: number;
  /**
   * "local" (default): BATON_STORAGE is a fresh folder. "s3": the suite starts moto, and BATON_STORAGE is
   * `s3://<bucket>/<prefix unique to the run>` with the server's AWS_* variables in `environment.env`.
   */
  readonly storage?: ConformanceStorage;
}

export interface HarnessEnvironmentOptions {
  /** An S3-API server to keep the outputs on (BATON_STORAGE = a fresh prefix in its bucket); none: a local folder. */
  readonly s3?: MotoServer;
  /** Names the s3 prefix, so a bucket shared by several runs stays readable. */
  readonly name?: string;
  /** A REST catalog for Iceberg table outputs: its `ICEBERG_*` variables go into `env` (capability icebergOutput). */
  readonly iceberg?: IcebergCatalogServer;
}

/** Fresh folders and variables for one suite run; secrets (and the s3 prefix) are random per run. */
export function makeHarnessEnvironment(options: HarnessEnvironmentOptions = {}): HarnessEnvironment {
  const root = mkdtempSync(join(tmpdir(), "baton-conformance-"));
  const storageDir = join(root, "storage");
  const workDir = join(root, "work");
  const configDir = join(root, "config");
  for (const d of [storageDir, workDir, configDir]) mkdirSync(d, { recursive: true });
  const storage = options.s3 ? options.s3.storageUrl(`conformance/${options.name ?? "run"}-${randomUUID()}`) : storageDir;
  return {
    fixtureModule: fixtureModulePath(),
    exportName: "default",
    storage,
    storageDir,
    workDir,
    configDir,
    env: {
      ...options.s3?.env,
      ...options.iceberg?.env,
      BATON_STORAGE: storage,
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
  const storage = options.storage ?? "local";
  // Cases bound to one kind of store (the no-local-fallback check) are not listed for the other.
  const cases = CASES.filter((c) => c.storage === undefined || c.storage === storage);
  const rows: ReportRow[] = cases.map((c) => ({ case: c.name, capability: c.capability, result: supported.has(c.capability) ? "not run" : "n/a" }));
  let ctx: CaseContext | undefined;
  let moto: MotoServer | undefined;
  let catalog: IcebergCatalogServer | undefined;
  /** How long the servers the suite started took to answer (ms), for the report. */
  const started: Record<string, number> = {};
  const timed = async <T>(what: string, start: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    const server = await start();
    started[what] = Math.round(performance.now() - t0);
    return server;
  };

  describe(`conformance: ${name}`, () => {
    beforeAll(async () => {
      const iceberg = supported.has("icebergOutput");
      // One moto per suite run: the s3 store's, which also holds the Iceberg warehouse when both are wanted.
      if (storage === "s3" || iceberg) moto = await timed("moto", startMoto);
      // The catalog is this run's own (a fresh SQLite catalog), so the fixtures' fixed namespace is never shared.
      if (iceberg) catalog = await timed("icebergCatalog", () => startIcebergCatalog(moto!));
      const environment = makeHarnessEnvironment({ ...(storage === "s3" ? { s3: moto! } : {}), ...(catalog ? { iceberg: catalog } : {}), name });
      await harness.setup(environment);
      ctx = { harness, environment, store: openStore(environment.storage, environment.env) };
    }, options.timeoutMs ?? 600_000);

    afterAll(async () => {
      try {
        await harness.teardown();
      } finally {
        await catalog?.stop();
        await moto?.stop();
        const dir = options.reportDir ?? process.env.BATON_CONFORMANCE_DIR ?? process.cwd();
        mkdirSync(dir, { recursive: true });
        const report = { runtime: name, storage, capabilities: [...supported], writtenAt: new Date().toISOString(), serversStartMs: started, cases: rows };
        writeFileSync(join(dir, `conformance-report.${name}.json`), JSON.stringify(report, null, 2) + "\n");
        const servers = Object.entries(started).map(([what, ms]) => `${what} ${ms} ms`);
        process.stdout.write(`\n${formatReport(name, rows)}\n${servers.length > 0 ? `servers started: ${servers.join(", ")}\n` : ""}`);
      }
    }, 120_000);

    cases.forEach((c, i) => {
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
