// Synthetic definitions for the parse-time benchmark: BATON_BENCH_ASSETS assets (default 1,000)
// in layers of 50, each reading two assets of the layer before; two schedules and a sensor.
import pl from "nodejs-polars";
import { asset, dailyPartitions, definitions, schedule, sensor } from "@baton/core";

const count = Number(process.env.BATON_BENCH_ASSETS ?? 1000);
const width = 50;
const daily = dailyPartitions({ start: "2024-01-01" });
const assets = [];
for (let i = 0; i < count; i++) {
  const layer = Math.floor(i / width);
  const inputs = {};
  if (layer > 0) {
    const base = (layer - 1) * width;
    inputs.left = assets[base + (i % width)];
    inputs.right = assets[base + ((i + 1) % width)];
  }
  assets.push(
    asset({
      key: [`layer${String(layer).padStart(2, "0")}`, `a${String(i).padStart(4, "0")}`],
      group: `layer${layer}`,
      ...(i < width ? {} : {}),
      partitions: layer < 2 ? daily : undefined,
      inputs: layer < 2 ? (layer === 1 ? inputs : {}) : {},
      deps: layer >= 2 ? Object.values(inputs) : [],
      compute: () => pl.DataFrame({ x: [i] }),
    }),
  );
}

export default definitions({
  assets,
  schedules: [
    schedule({ name: "nightly", cron: "0 3 * * *", timezone: "Europe/Paris", selection: "group:layer0 group:layer1" }),
    schedule({ name: "hourly_rest", cron: "15 * * * *", selection: assets.slice(2 * width).map((a) => a.id).join(" ") }),
  ],
  sensors: [sensor({ name: "files", selection: "group:layer0", evaluate: () => ({ skip: "bench" }) })],
});
