// Node side of the real-Dagster end-to-end check (dagster_e2e.py launches it).
// Imports the built pipes module from BATON_PIPES_MODULE_URL; argv[2] names the scenario.
import { writeSync } from "node:fs";
import process from "node:process";

const { openDagsterPipes, withDagsterPipes, PipesMetadata } = await import(process.env.BATON_PIPES_MODULE_URL);
const scenario = process.argv[2];

switch (scenario) {
  case "orders": {
    await withDagsterPipes(async (pipes) => {
      pipes.log.info(`materializing ${pipes.assetKey} (code version ${pipes.codeVersion})`);
      pipes.log.warning("a warning from node");
      pipes.reportAssetMaterialization({
        dataVersion: "orders-v1",
        metadata: {
          row_count: 42,
          ratio: 0.25,
          whole_float: PipesMetadata.float(2),
          label: "orders from node",
          flag: true,
          nothing: null,
          list: [1, 2, 3],
          text: PipesMetadata.text("typed text"),
          url: PipesMetadata.url("https://example.com/orders"),
          path: PipesMetadata.path("/data/orders.parquet"),
          notebook: PipesMetadata.notebook("/nb/orders.ipynb"),
          json: PipesMetadata.json({ nested: { ok: true }, items: [1, "a"] }),
          md: PipesMetadata.md("# Orders"),
          int: PipesMetadata.int(7),
          bool: PipesMetadata.bool(false),
          run: PipesMetadata.dagsterRun(pipes.runId),
          upstream: PipesMetadata.asset(["warehouse", "customers"]),
          null: PipesMetadata.null(),
          table: PipesMetadata.table({
            records: [
              { id: 1, name: "a", amount: 1.5 },
              { id: 2, name: "b", amount: 3 },
            ],
            schema: [
              { name: "id", type: "int", constraints: { nullable: false, unique: true } },
              { name: "name", type: "string", description: "customer name", tags: { pii: "yes" } },
              { name: "amount", type: "float" },
            ],
          }),
          schema: PipesMetadata.tableSchema([
            { name: "id", type: "int", constraints: { nullable: false, other: ["primary key"] } },
            { name: "amount", type: "float", description: "in EUR" },
          ]),
          lineage: PipesMetadata.tableColumnLineage({
            amount: [{ assetKey: ["warehouse", "raw_orders"], columnName: "amount_cents" }],
          }),
          at: PipesMetadata.timestamp(new Date("2024-01-02T03:04:05Z")),
        },
      });
      pipes.reportAssetCheck({ checkName: "no_nulls", passed: true, metadata: { null_count: 0 } });
      pipes.reportAssetCheck({ checkName: "fresh", passed: false, severity: "WARN", metadata: { lag_hours: 30.5 } });
      pipes.reportCustomMessage({ greeting: pipes.getExtra("greeting"), extras: pipes.extras, jobName: pipes.jobName });
    });
    break;
  }
  case "daily": {
    const pipes = openDagsterPipes();
    pipes.reportCustomMessage({
      isPartitionStep: pipes.isPartitionStep,
      partitionKey: pipes.partitionKey,
      partitionKeyRange: pipes.partitionKeyRange,
      partitionTimeWindow: pipes.partitionTimeWindow,
    });
    pipes.reportAssetMaterialization({ metadata: { partition: pipes.partitionKey } });
    pipes.close();
    break;
  }
  case "failing": {
    const pipes = openDagsterPipes();
    try {
      try {
        throw new TypeError("upstream file missing");
      } catch (inner) {
        throw new Error("could not build orders", { cause: inner });
      }
    } catch (error) {
      pipes.close(error);
      process.exitCode = 1;
    }
    break;
  }
  case "cli": {
    const pipes = openDagsterPipes({ paramsLoader: "cli" });
    pipes.reportAssetMaterialization({ metadata: { via: pipes.getExtra("via"), has_env: "DAGSTER_PIPES_CONTEXT" in process.env } });
    pipes.close();
    break;
  }
  case "wait": {
    const pipes = openDagsterPipes();
    pipes.log.info("waiting for SIGINT");
    setInterval(() => {}, 1000);
    writeSync(2, "READY\n");
    break;
  }
  default:
    throw new Error(`unknown scenario ${scenario}`);
}
