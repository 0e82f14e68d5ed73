import { existsSync, mkdirSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import pl from "nodejs-polars";
import type { AssetDefinition } from "../asset.js";
import type { AssetBatch, GroupContext, GroupResult } from "../asset-group.js";
import { BatonError } from "../errors.js";
import { keyToString, toAssetKey, type AssetKey, type AssetKeyLike } from "../keys.js";
import type { OutputRecord } from "../io/store.js";
import { encodeSegment, materializeCommand } from "../io/store.js";
import { redactDeep } from "./events.js";
import { checksFailedAfterWrite, commitOutput, contextFor, inputKeys, nullableRedact, type RunOneOptions } from "./run.js";

/** What one execute call did for one asset of the group. */
export type GroupOutcome =
  | { readonly status: "success"; readonly record: OutputRecord }
  | { readonly status: "failure"; readonly error: unknown }
  | { readonly status: "skipped"; readonly reason: string };

/**
 * One execute call of an asset group for one partition key: `assets` are the group's selected assets of the step
 * (in dependency order, none of them reading another asset of the step outside the group). Commits each
 * materialized spec's output through the store as a compute's, reports the checks, and returns every asset's
 * outcome. A thrown error (execute's own, a timeout) fails the whole call; the caller fails every asset.
 */
export async function runGroupKey(batch: AssetBatch, assets: readonly AssetDefinition[], partitionKey: string | undefined, o: RunOneOptions): Promise<Map<string, GroupOutcome>> {
  const started = performance.now();
  const ids = new Set(assets.map((a) => a.id));
  const where = `asset group "${batch.name}"`;
  const temp = await mkdtemp(join(tmpdir(), `baton-${batch.name}-`));
  try {
    for (const a of assets) await o.store.prepare(a.key, partitionKey);
    const only = o.checks === undefined ? undefined : new Set(o.checks);
    const selectedChecks = assets.flatMap((a) => a.checks.filter((c) => only === undefined || only.has(c.name)).map((c) => ({ asset: a.key, name: c.name })));
    /** Where a spec's Parquet goes in this call: fixed per asset, so nothing needs remembering. */
    const outputPath = (id: string): string => join(temp, "out", encodeSegment(id), "data.parquet");
    const idOf = (key: AssetKey | AssetKeyLike, what: string): string => {
      try {
        return keyToString(toAssetKey(key));
      } catch {
        throw new BatonError("INVALID_DEFINITION", `${where}: ${what} got ${JSON.stringify(key)}, not an asset key`, { asset: assets[0]!.id, hint: "pass an AssetKey of ctx.selected" });
      }
    };
    const outputFile = (key: AssetKey | AssetKeyLike): string => {
      const id = idOf(key, "outputFile");
      if (!ids.has(id)) {
        throw new BatonError("INVALID_DEFINITION", `${where}: outputFile("${id}") names no asset this call materializes`, { asset: assets[0]!.id, hint: `use a key of ctx.selected (${[...ids].join(", ")})` });
      }
      const path = outputPath(id);
      mkdirSync(dirname(path), { recursive: true });
      return path;
    };
    const inputFile = async (key: AssetKey | AssetKeyLike): Promise<string> => {
      const id = idOf(key, "inputFile");
      const upstream = o.definitions.asset(id);
      // The partition key is mapped as for the asset that depends on it (the default mapping).
      const reader = assets.find((a) => o.definitions.upstream(a.id).includes(id)) ?? assets[0]!;
      const keys = await inputKeys(reader, upstream, undefined, partitionKey, o);
      if (keys !== undefined && keys.length !== 1) {
        throw new BatonError("UNMAPPABLE_PARTITIONS", `${where}: inputFile("${id}") needs one partition of "${id}" but ${JSON.stringify(partitionKey)} maps to ${keys.length}`, {
          asset: reader.id,
          hint: "give the upstream the group's partitions, or read it through a TypeScript asset",
        });
      }
      const upKey = keys?.[0];
      const record = await o.store.readRecord(upstream.key, upKey);
      if (!record) {
        throw new BatonError("MISSING_OUTPUT", `${where}: "${id}"${upKey !== undefined ? ` partition "${upKey}"` : ""} has no stored output (looked in ${o.store.dirOf(upstream.key, upKey)})`, {
          asset: reader.id,
          hint: `materialize it first: ${materializeCommand(id, upKey)}`,
        });
      }
      if (record.file === null) {
        throw new BatonError("MISSING_OUTPUT", `${where}: "${id}" stores no data file (format ${record.format})`, { asset: reader.id, hint: `read "${id}" through its own store or catalog, or make it a Parquet output` });
      }
      return o.store.localFile(upstream.key, upKey, record.file, temp);
    };
    const { assetKey: _, ...base } = contextFor(assets[0]!, partitionKey, o);
    const ctx: GroupContext = { ...base, group: batch.name, selected: assets.map((a) => a.key), selectedChecks, inputFile, outputFile };
    const result = ((await batch.execute(ctx as never)) ?? {}) as Partial<GroupResult>;
    o.attempt.check();

    const keyed = <T extends { readonly key: AssetKeyLike } | { readonly asset: AssetKeyLike }>(list: readonly T[] | undefined, what: string) =>
      (list ?? []).flatMap((item) => {
        const id = idOf("key" in item ? item.key : item.asset, what);
        if (ids.has(id)) return [{ id, item }];
        o.onEvent({ type: "log", level: "warning", message: o.redact(`${where}: execute returned ${what} for "${id}", which this call does not materialize; ignored`), asset: assets[0]!.id });
        return [];
      });
    const materialized = new Map(keyed(result.materializations, "a materialization").map(({ id, item }) => [id, item]));
    const failed = new Map(keyed(result.failures, "a failure").map(({ id, item }) => [id, item]));
    const outcomes = new Map<string, GroupOutcome>();
    for (const a of assets) {
      const failure = failed.get(a.id);
      const done = materialized.get(a.id);
      if (failure) {
        outcomes.set(a.id, { status: "failure", error: failure.error instanceof Error ? failure.error : new Error(String(failure.error)) });
      } else if (done) {
        try {
          let frame: pl.DataFrame | undefined;
          if (a.output === "table") {
            const path = outputPath(a.id);
            if (!existsSync(path)) {
              throw new BatonError("MISSING_OUTPUT", `${where} reported "${a.id}" materialized but wrote no Parquet file at ${path}`, {
                asset: a.id,
                hint: `write its output to ctx.outputFile(key) before execute returns, or declare the spec output: "none"`,
              });
            }
            frame = pl.readParquet(path);
          }
          const record = await commitOutput(a, partitionKey, frame, frame === undefined ? "none" : "polars", done.metadata, started, undefined, o);
          outcomes.set(a.id, { status: "success", record });
        } catch (e) {
          outcomes.set(a.id, { status: "failure", error: e });
        }
      } else {
        // What execute left out because a spec it depends on failed (dbt's "skipped") is skipped, not an error.
        const blocked = o.definitions.upstream(a.id).find((up) => ids.has(up) && outcomes.get(up)?.status !== "success");
        outcomes.set(
          a.id,
          blocked !== undefined
            ? { status: "skipped", reason: `upstream "${blocked}" did not succeed` }
            : {
                status: "failure",
                error: new BatonError("MISSING_OUTPUT", `${where}: execute neither materialized nor failed "${a.id}", which was selected`, {
                  asset: a.id,
                  hint: "return every key of ctx.selected in materializations or in failures",
                }),
              },
        );
      }
    }
    // Every verdict is reported (after its materialization), then the error-severity failures fail their assets.
    const failedChecks = new Map<string, string[]>();
    const picked = new Set(selectedChecks.map((c) => `${keyToString(c.asset)}\u0000${c.name}`));
    for (const { id, item: c } of keyed(result.checks, "a check verdict")) {
      if (outcomes.get(id)?.status !== "success") continue;
      if (!picked.has(`${id}\u0000${c.name}`)) {
        o.onEvent({ type: "log", level: "warning", message: o.redact(`${where}: execute returned check "${c.name}" of "${id}", which is not selected; ignored`), asset: id });
        continue;
      }
      const declared = o.definitions.asset(id).checks.find((d) => d.name === c.name);
      const severity = c.severity ?? declared?.severity ?? "error";
      o.onEvent({
        type: "check",
        asset: id,
        partitionKey: partitionKey ?? null,
        check: c.name,
        passed: c.passed === true,
        severity,
        description: nullableRedact(c.description ?? declared?.description ?? null, o.redact),
        metadata: redactDeep(c.metadata ?? {}, o.redact),
      });
      if (c.passed !== true && severity === "error") failedChecks.set(id, [...(failedChecks.get(id) ?? []), c.name]);
    }
    for (const [id, names] of failedChecks) outcomes.set(id, { status: "failure", error: checksFailedAfterWrite(o.definitions.asset(id), names) });
    return outcomes;
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
}

/**
 * The assets of `first`'s group that one execute call can materialize now: `first` and the later unresolved ones
 * whose every upstream in the step is resolved or in the call (a TypeScript asset between two specs sends the
 * later spec to a later call: topological waves).
 */
export function groupWave<T extends { readonly asset: AssetDefinition }>(
  first: T,
  plan: readonly T[],
  inStep: ReadonlySet<string>,
  resolved: (id: string) => boolean,
  upstream: (id: string) => readonly string[],
): T[] {
  const wave: T[] = [];
  const inWave = new Set<string>();
  for (const p of plan.slice(plan.indexOf(first))) {
    if (p.asset.batch !== first.asset.batch || resolved(p.asset.id)) continue;
    if (upstream(p.asset.id).every((up) => !inStep.has(up) || inWave.has(up) || resolved(up))) {
      wave.push(p);
      inWave.add(p.asset.id);
    }
  }
  return wave;
}
