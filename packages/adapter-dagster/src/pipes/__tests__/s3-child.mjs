// Node side of the Pipes-over-S3 check (python/tests/pipes_s3/pipes_s3_e2e.py launches it with
// dagster-aws's PipesS3ContextInjector / PipesS3MessageReader params). Uses the built package, as a
// user's step would: openDagsterPipes() picks the S3 loader and writer from the params.
// argv[2] names the scenario; PIPES_S3_CONTROL is a folder the driver and this script share to
// hand over "Dagster has seen what was uploaded so far" without timing guesses.
import { existsSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";

import { openDagsterPipes, PipesMetadata } from "@baton/adapter-dagster/pipes";

const scenario = process.argv[2];
const control = process.env.PIPES_S3_CONTROL;

/** Waits until the driver drops `<scenario>.seen` (it saw the materialization mid-run). */
async function seenByDagster() {
  const marker = join(control, `${scenario}.seen`);
  const deadline = Date.now() + 60_000;
  while (!existsSync(marker)) {
    if (Date.now() > deadline) throw new Error(`Dagster did not see the first chunk within 60 s (${marker})`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const pipes = openDagsterPipes();
try {
  switch (scenario) {
    case "report": {
      pipes.log.info(`materializing ${pipes.assetKey} through S3 (greeting: ${pipes.getExtra("greeting")})`);
      pipes.reportAssetMaterialization({
        dataVersion: "s3-v1",
        metadata: {
          row_count: 42,
          label: "orders over s3",
          schema: PipesMetadata.tableSchema([{ name: "id", type: "int" }]),
        },
      });
      // Uploaded by the interval, not by close: the driver sees it while this process still runs.
      await seenByDagster();
      pipes.reportAssetCheck({ checkName: "non_empty", passed: true, metadata: { rows: 42 } });
      pipes.log.warning("after the first chunk");
      pipes.reportCustomMessage({ run: pipes.runId, extras: pipes.extras });
      pipes.close();
      break;
    }
    case "crash": {
      pipes.reportAssetMaterialization({ metadata: { before_crash: true } });
      await seenByDagster();
      pipes.log.info("this message is lost with the process");
      // No exit hook runs for SIGKILL: what the interval uploaded is all Dagster gets.
      process.kill(process.pid, "SIGKILL");
      break;
    }
    case "uncaught": {
      pipes.log.info("about to throw outside any try");
      // Never closed by this script: Pipes' exit hook closes it with the error, and the upload
      // happens inside the process's "exit" event, where no promise could settle.
      setTimeout(() => {
        throw new Error("uncaught over s3");
      }, 10);
      break;
    }
    case "failing": {
      pipes.log.info("about to fail");
      throw new Error("the S3 step failed on purpose", { cause: new Error("root cause") });
    }
    default:
      throw new Error(`unknown scenario ${scenario}`);
  }
} catch (error) {
  pipes.close(error);
  // process.exit() right after close(): close() has already waited for the last upload.
  process.exit(1);
}
