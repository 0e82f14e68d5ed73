// A project of 20,000 assets for scale.integration.test.ts (and bench/scale.mjs): 400 groups of
// 50, each asset reading two of the group before; the first group daily-partitioned; a schedule
// and a sensor over it. BATON_SCALE_ASSETS overrides the count (the benchmark's smaller runs).
import pl from "nodejs-polars";
import { asset, dailyPartitions, definitions, schedule, sensor } from "@baton/core";

const count = Number(process.env.BATON_SCALE_ASSETS ?? 20_000);
const width = 50;
const daily = dailyPartitions({ start: "2024-01-01" });
const assets = [];
for (let i = 0; i < count; i++) {
  const group = Math.floor(i / width);
  const base = (group - 1) * width;
  assets.push(
    asset({
      key: [`g${String(group).padStart(3, "0")}`, `a${String(i).padStart(5, "0")}`],
      group: `g${group}`,
      description: `asset ${i} of group ${group}`,
      partitions: group === 0 ? daily : undefined,
      deps: group === 0 ? [] : [assets[base + (i % width)], assets[base + ((i + 1) % width)]],
      compute: () => pl.DataFrame({ x: [i] }),
    }),
  );
}

export default definitions({
  assets,
  schedules: [schedule({ name: "nightly", cron: "0 3 * * *", timezone: "Europe/Paris", selection: "group:g0" })],
  sensors: [sensor({ name: "files", selection: "group:g0", evaluate: () => ({ skip: "never asked" }) })],
});
