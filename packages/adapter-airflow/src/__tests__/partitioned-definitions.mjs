// One daily-partitioned asset for partitions.integration.test.ts: Airflow consumers downstream of it.
import pl from "nodejs-polars";
import { asset, dailyPartitions, definitions } from "@baton/core";

const events = asset({
  key: "events",
  group: "web",
  partitions: dailyPartitions({ start: "2024-01-01", end: "2024-03-01" }),
  compute: (_inputs, ctx) => pl.DataFrame({ day: [ctx.partitionKey] }),
});

export default definitions({ assets: [events] });
