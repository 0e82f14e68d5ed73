// Definitions for the Baton step over Pipes-on-S3 (pipes-s3.integration.test.ts): one asset with
// a check and a log line, and one whose compute throws, run by the real Baton Node step with
// dagster-aws's S3 context injector and message reader.
import pl from "nodejs-polars";
import { asset, definitions } from "@baton/core";

export const orders = asset({
  key: ["s3", "orders"],
  group: "s3",
  metadata: { channel: "s3" },
  compute: (_inputs, ctx) => {
    ctx.log.info("orders computed by the Baton step");
    return pl.DataFrame({ id: pl.Series("id", [1, 2, 3], pl.Int64) });
  },
  checks: [{ name: "has_rows", description: "the frame is not empty", check: (df) => df.height > 0 }],
});

export const broken = asset({
  key: ["s3", "broken"],
  group: "broken",
  compute: () => {
    throw new Error("broken on purpose, reported through S3");
  },
});

export default definitions({ assets: [orders, broken] });
