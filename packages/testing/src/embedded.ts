import { evaluateScheduleTick, evaluateSensorTick, loadDefinitions, LocalIOStore, materialize, type Definitions } from "@baton/core";
import type { HarnessEnvironment, HarnessRun, RuntimeHarness } from "./suite/harness.js";

/** The embedded executor as a runtime under test: the reference every adapter is compared with. */
export function embeddedHarness(): RuntimeHarness {
  let defs: Definitions | undefined;
  let environment: HarnessEnvironment | undefined;
  const env = () => ({ ...process.env, ...environment!.env });
  return {
    name: "embedded",
    async setup(e) {
      environment = e;
      defs = await loadDefinitions(e.fixtureModule, e.exportName);
    },
    async materialize(request): Promise<HarnessRun> {
      const checks: { asset: string; check: string; passed: boolean; partitionKey: string | null }[] = [];
      const materializations: { asset: string; partitionKey: string | null }[] = [];
      const records: string[] = [];
      try {
        const result = await materialize(defs!, {
          selection: request.assets.join(" "),
          ...(request.partitionKey !== undefined ? { partition: request.partitionKey } : {}),
          ...(request.partitionRange ? { partitionRange: request.partitionRange } : {}),
          store: new LocalIOStore(environment!.storageDir),
          env: env(),
          sleep: async () => undefined,
          onEvent: (ev) => {
            records.push(JSON.stringify(ev));
            if (ev.type === "materialization") materializations.push({ asset: ev.asset, partitionKey: ev.partitionKey });
            if (ev.type === "check") checks.push({ asset: ev.asset, check: ev.check, passed: ev.passed, partitionKey: ev.partitionKey });
          },
        });
        return {
          status: result.status,
          assets: Object.fromEntries(Object.entries(result.assets).map(([id, a]) => [id, { status: a.status, attempts: a.attempts, error: a.error?.message ?? null }])),
          checks,
          materializations,
          recordsText: records.join("\n"),
        };
      } catch (e) {
        // Invalid requests (an unknown partition key) fail before any asset starts.
        return { status: "failure", assets: Object.fromEntries(request.assets.map((id) => [id, { status: "failure" as const, attempts: 0, error: (e as Error).message }])), checks, materializations, recordsText: [...records, String((e as Error).stack)].join("\n") };
      }
    },
    async scheduleTick(name, at) {
      const t = evaluateScheduleTick(defs!, name, at);
      return { runRequests: t.runRequests, cursor: t.cursor, skipReason: t.skipReason, recordsText: JSON.stringify(t) };
    },
    async sensorTick(name, cursor) {
      const t = await evaluateSensorTick(defs!, name, { cursor, env: env() });
      return { runRequests: t.runRequests, cursor: t.cursor, skipReason: t.skipReason, recordsText: JSON.stringify(t) };
    },
    async teardown() {
      defs = undefined;
    },
  };
}
