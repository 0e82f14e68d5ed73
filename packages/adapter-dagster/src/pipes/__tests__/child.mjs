// Child process used by the tests: imports the built pipes module from BATON_PIPES_MODULE_URL
// and runs the scenario named by PIPES_SCENARIO.
import { writeSync } from "node:fs";
import process from "node:process";

const pipesModule = await import(process.env.BATON_PIPES_MODULE_URL);
const { openDagsterPipes, PipesMetadata, withDagsterPipes } = pipesModule;
const scenario = process.env.PIPES_SCENARIO;

/** Reports to the test on stderr, synchronously. */
function note(tag, value) {
  writeSync(2, `${tag}:${JSON.stringify(value)}\n`);
}

function tryRead(fn) {
  try {
    return { value: fn() };
  } catch (error) {
    return { error: error.message, name: error.name };
  }
}

function describeContext(pipes) {
  return {
    isDagsterPipesProcess: pipes.isDagsterPipesProcess,
    isAssetStep: pipes.isAssetStep,
    assetKey: tryRead(() => pipes.assetKey),
    assetKeys: tryRead(() => pipes.assetKeys),
    codeVersion: tryRead(() => pipes.codeVersion),
    codeVersionByAssetKey: tryRead(() => pipes.codeVersionByAssetKey),
    provenance: tryRead(() => pipes.provenance),
    provenanceByAssetKey: tryRead(() => pipes.provenanceByAssetKey),
    isPartitionStep: pipes.isPartitionStep,
    partitionKey: tryRead(() => pipes.partitionKey),
    partitionKeyRange: tryRead(() => pipes.partitionKeyRange),
    partitionTimeWindow: tryRead(() => pipes.partitionTimeWindow),
    runId: tryRead(() => pipes.runId),
    jobName: tryRead(() => pipes.jobName),
    retryNumber: tryRead(() => pipes.retryNumber),
    extras: pipes.extras,
    greeting: tryRead(() => pipes.getExtra("greeting")),
    missingExtra: tryRead(() => pipes.getExtra("missing")),
  };
}

function allMetadata() {
  return {
    inferred_text: "hello",
    inferred_int: 42,
    inferred_float: 2.5,
    inferred_bool: true,
    inferred_null: null,
    inferred_list: [1, "two", { three: 3 }],
    text: PipesMetadata.text("plain text"),
    url: PipesMetadata.url("https://example.com/orders"),
    path: PipesMetadata.path("/data/orders.parquet"),
    notebook: PipesMetadata.notebook("/notebooks/orders.ipynb"),
    json: PipesMetadata.json({ a: 1, b: [true, null] }),
    md: PipesMetadata.md("# Orders\n*fresh*"),
    float: PipesMetadata.float(2),
    int: PipesMetadata.int(7),
    big_int: PipesMetadata.int(12345678901234567890n),
    bool: PipesMetadata.bool(false),
    dagster_run: PipesMetadata.dagsterRun("11111111-2222-3333-4444-555555555555"),
    asset: PipesMetadata.asset(["warehouse", "customers"]),
    null: PipesMetadata.null(),
    table: PipesMetadata.table({
      records: [
        { id: 1, name: "a", score: 1.5, ok: true, note: null },
        { id: 2, name: "b", score: 3, ok: false, note: "x" },
      ],
      schema: [
        { name: "id", type: "int", constraints: { nullable: false, unique: true } },
        { name: "name" },
        { name: "score", type: "float", description: "a score" },
        { name: "ok", type: "bool", tags: { pii: "no" } },
        { name: "note", type: "string" },
      ],
    }),
    table_schema: PipesMetadata.tableSchema([
      { name: "id", type: "int", description: "primary key", constraints: { nullable: false, other: ["pk"] } },
      { name: "amount", type: "float" },
    ]),
    table_column_lineage: PipesMetadata.tableColumnLineage({
      amount: [
        { assetKey: "warehouse/raw_orders", columnName: "amount_cents" },
        { assetKey: ["warehouse", "fx"], columnName: "rate" },
      ],
    }),
    timestamp: PipesMetadata.timestamp(new Date("2024-01-02T03:04:05.500Z")),
    date_inferred: new Date("2024-01-02T00:00:00Z"),
    raw_typed: { type: "md", raw_value: "**bold**" },
  };
}

switch (scenario) {
  case "basic": {
    const pipes = openDagsterPipes();
    process.stdout.write("some stdout noise\n");
    pipes.log.debug("debug message");
    pipes.log.info("info message");
    pipes.log.warning("warning message");
    pipes.log.error("error message");
    pipes.log.critical("critical message");
    pipes.reportAssetMaterialization({ metadata: allMetadata(), dataVersion: "dv-1" });
    pipes.reportAssetCheck({ checkName: "no_nulls", passed: true, metadata: { null_count: 0 } });
    pipes.reportAssetCheck({ checkName: "fresh", passed: false, severity: "WARN" });
    pipes.reportCustomMessage({ context: describeContext(pipes) });
    pipes.close();
    break;
  }
  case "describe": {
    const pipes = openDagsterPipes();
    pipes.reportCustomMessage(describeContext(pipes));
    pipes.close();
    break;
  }
  case "materialize-twice": {
    const pipes = openDagsterPipes();
    pipes.reportAssetMaterialization({ assetKey: ["warehouse", "orders"] });
    note("SECOND", tryRead(() => pipes.reportAssetMaterialization()));
    note("BAD_TYPE", tryRead(() => pipes.reportAssetCheck({ checkName: "c", passed: true, metadata: { x: { type: "bogus", raw_value: 1 } } })));
    note("PLAIN_OBJECT", tryRead(() => pipes.reportAssetCheck({ checkName: "c", passed: true, metadata: { x: { a: 1 } } })));
    pipes.close();
    break;
  }
  case "close-with-error": {
    const pipes = openDagsterPipes();
    try {
      try {
        JSON.parse("{not json");
      } catch (inner) {
        throw new Error("could not load orders", { cause: inner });
      }
    } catch (error) {
      pipes.close(error);
      process.exitCode = 1;
    }
    break;
  }
  case "with-helper-throws": {
    await withDagsterPipes(async (pipes) => {
      pipes.log.info("about to fail");
      throw new RangeError("value out of range");
    });
    break;
  }
  case "uncaught": {
    const pipes = openDagsterPipes();
    pipes.log.info("before crash");
    setTimeout(() => {
      throw new TypeError("crashed in a callback");
    }, 10);
    break;
  }
  case "exit-nonzero": {
    const pipes = openDagsterPipes();
    pipes.log.info("exiting with 3");
    process.exit(3);
    break;
  }
  case "forgot-close": {
    const pipes = openDagsterPipes();
    pipes.reportAssetMaterialization({ metadata: { rows: 1 } });
    break;
  }
  case "after-close": {
    const pipes = openDagsterPipes();
    pipes.close();
    pipes.close(); // idempotent
    note("AFTER_CLOSE_LOG", tryRead(() => pipes.log.info("late")));
    note("AFTER_CLOSE_REPORT", tryRead(() => pipes.reportAssetMaterialization()));
    note("AFTER_CLOSE_CUSTOM", tryRead(() => pipes.reportCustomMessage(1)));
    note("SAME_INSTANCE", openDagsterPipes() === pipes);
    break;
  }
  case "wait": {
    const pipes = openDagsterPipes();
    pipes.log.info("waiting for a signal");
    pipes.reportCustomMessage({ stage: "before-signal" });
    setInterval(() => {}, 1000);
    writeSync(2, "READY\n");
    break;
  }
  case "wait-no-handlers": {
    const pipes = openDagsterPipes({ handleSignals: false });
    pipes.log.info("waiting without handlers");
    setInterval(() => {}, 1000);
    writeSync(2, "READY\n");
    break;
  }
  case "flood": {
    // Far more than a pipe buffer holds, then exit immediately: nothing may be lost.
    const pipes = openDagsterPipes();
    const filler = "x".repeat(10_000);
    const count = Number(process.env.FLOOD_COUNT ?? "300");
    for (let i = 0; i < count; i++) pipes.log.info(`${i}:${filler}`);
    console.log("user output between messages");
    pipes.close();
    process.exit(0);
    break;
  }
  case "stdio-capture": {
    const pipes = openDagsterPipes();
    console.log("captured stdout line");
    process.stderr.write(Buffer.from("captured stderr bytes\n"));
    pipes.close();
    console.log("after close, not captured");
    break;
  }
  case "noop": {
    const pipes = openDagsterPipes();
    pipes.log.info("nobody listens");
    pipes.reportAssetMaterialization({ metadata: { rows: 1 } });
    pipes.reportAssetCheck({ checkName: "c", passed: true });
    pipes.reportCustomMessage({ hello: "world" });
    const description = describeContext(pipes);
    pipes.close(new Error("ignored"));
    note("NOOP", { ...description, isClosed: pipes.isClosed, isDagster: pipesModule.isDagsterPipesProcess() });
    break;
  }
  default:
    throw new Error(`unknown scenario ${scenario}`);
}
