"""Dagster Pipes over S3 with real Dagster and dagster-aws (src/pipes-s3.integration.test.ts).

Each asset launches a Node process through `PipesS3ContextInjector` (context object in the
bucket) and `PipesS3MessageReader` (messages read back as chunk objects): no file and no stdout
is shared with it. Scenarios of `src/pipes/__tests__/s3-child.mjs` ("report", "crash",
"failing", "uncaught") and, with `--baton-project`, the Baton Node step of a built project. Writes what
Dagster recorded (materializations, check evaluations, logs, pipes engine events, step
failures) and what was in the bucket as JSON.

Usage:  python pipes_s3_e2e.py OUTPUT.json [--baton-project DIR MODULE ASSET...]
Env:    BATON_TEST_BUCKET, AWS_* (moto), PIPES_S3_CONTROL (a folder shared with Node),
        BATON_NODE (node binary), PIPES_S3_CHILD (the .mjs script)
"""

import importlib
import json
import math
import os
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

# Only in the Pipes-over-S3 test venv (requirements-pipes-s3.txt), not in the mypy/pytest one.
import boto3  # type: ignore[import-not-found, unused-ignore]
import dagster as dg
from dagster_aws.pipes import (  # type: ignore[import-not-found, unused-ignore]
    PipesS3ContextInjector,
    PipesS3MessageReader,
)
from dagster_pipes import decode_param

warnings.filterwarnings("ignore")

BUCKET = os.environ["BATON_TEST_BUCKET"]
CONTROL = Path(os.environ["PIPES_S3_CONTROL"])
NODE = os.environ.get("BATON_NODE", "node")
CHILD = os.environ["PIPES_S3_CHILD"]
# The reader polls every second; Node uploads every 2 s (BATON_PIPES_S3_INTERVAL), so chunks
# never pile up faster than the reader takes them.
READER_INTERVAL = 1.0

client = boto3.client("s3")
collected: dict[str, Any] = {"sessions": {}}


def s3_pipes() -> tuple[PipesS3ContextInjector, PipesS3MessageReader]:
    return (
        PipesS3ContextInjector(bucket=BUCKET, client=client),
        PipesS3MessageReader(bucket=BUCKET, client=client, interval=READER_INTERVAL),
    )


def child_env(session: dg.PipesSession) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAGSTER_PIPES_")}
    return {**env, **session.get_bootstrap_env_vars(), "BATON_PIPES_S3_INTERVAL": "2"}


def objects_under(prefix: str) -> list[str]:
    answer = client.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return sorted(o["Key"] for o in answer.get("Contents", []))


def run_child(context: dg.AssetExecutionContext, scenario: str) -> Iterator[Any]:
    """Run one scenario; drop `<scenario>.seen` once a result arrived while Node still runs."""
    injector, reader = s3_pipes()
    with dg.open_pipes_session(
        context=context,
        context_injector=injector,
        message_reader=reader,
        extras={"greeting": "hello over s3"},
    ) as session:
        params = {
            k: decode_param(v) for k, v in session.get_bootstrap_env_vars().items()
        }
        context_key = params["DAGSTER_PIPES_CONTEXT"]["key"]
        context_present = objects_under(context_key) == [context_key]
        proc = subprocess.Popen([NODE, CHILD, scenario], env=child_env(session))
        seen_while_running = False
        while proc.poll() is None:
            if not seen_while_running and session.get_reported_results():
                seen_while_running = True
                (CONTROL / f"{scenario}.seen").write_text("seen")
            time.sleep(0.05)
    prefix = params["DAGSTER_PIPES_MESSAGES"]["key_prefix"]
    collected["sessions"][scenario] = {
        "params": params,
        "context_present_during_run": context_present,
        "context_left_after": objects_under(context_key),
        "chunks": objects_under(f"{prefix}/"),
        "chunk_bodies": [
            client.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode("utf-8")
            for key in objects_under(f"{prefix}/")
        ],
        "returncode": proc.returncode,
        "seen_while_running": seen_while_running,
        "received_closed": session.message_handler.received_closed_message,
        "custom": list(session.get_custom_messages()),
    }
    if proc.returncode != 0:
        # What Node reported before it failed is kept; no implicit materialization is added.
        yield from session.get_reported_results()
        raise dg.Failure(description=f"the Node process exited with {proc.returncode}")
    yield from session.get_results()


@dg.asset(
    key_prefix=["warehouse"],
    check_specs=[
        dg.AssetCheckSpec("non_empty", asset=dg.AssetKey(["warehouse", "orders"]))
    ],
)
def orders(context: dg.AssetExecutionContext) -> Iterator[Any]:
    yield from run_child(context, "report")


@dg.asset
def crash(context: dg.AssetExecutionContext) -> Iterator[Any]:
    yield from run_child(context, "crash")


@dg.asset
def failing(context: dg.AssetExecutionContext) -> Iterator[Any]:
    yield from run_child(context, "failing")


@dg.asset
def uncaught(context: dg.AssetExecutionContext) -> Iterator[Any]:
    yield from run_child(context, "uncaught")


def jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if type(value) in (list, tuple):
        return [jsonable(v) for v in value]
    if type(value) is dict:
        return {str(k): jsonable(v) for k, v in value.items()}
    try:
        return json.loads(dg.serialize_value(value))
    except Exception:  # noqa: BLE001 — a value Dagster cannot serialize is shown by its repr
        return repr(value)


def describe_metadata(metadata: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: {"class": type(value).__name__, "value": jsonable(value.value)}
        for key, value in metadata.items()
    }


def describe_error(error: Any) -> dict[str, Any] | None:
    if error is None:
        return None
    return {
        "message": error.message,
        "cls_name": error.cls_name,
        "cause": describe_error(error.cause),
    }


def record(
    result: dg.ExecuteInProcessResult, instance: dg.DagsterInstance
) -> dict[str, Any]:
    """What Dagster recorded for the run, from its own event log."""
    entries = instance.all_logs(result.run_id)
    return {
        "success": result.success,
        "materializations": [
            {
                "asset_key": m.asset_key.path,
                "partition": m.partition,
                "tags": dict(m.tags or {}),
                "metadata": describe_metadata(m.metadata),
            }
            for m in (
                e.step_materialization_data.materialization
                for e in result.get_asset_materialization_events()
            )
        ],
        "checks": [
            {
                "asset_key": c.asset_key.path,
                "check_name": c.check_name,
                "passed": c.passed,
                "metadata": describe_metadata(c.metadata),
            }
            for c in result.get_asset_check_evaluations()
        ],
        "logs": [
            {"level": e.level, "message": e.user_message}
            for e in entries
            if not e.is_dagster_event
        ],
        "pipes_events": [
            {
                "message": e.dagster_event.message,
                "error": describe_error(
                    getattr(e.dagster_event.event_specific_data, "error", None)
                ),
            }
            for e in entries
            if e.dagster_event is not None
            and e.dagster_event.message
            and "[pipes]" in e.dagster_event.message
        ],
        "step_failures": [
            describe_error(e.step_failure_data.error)
            for e in result.get_step_failure_events()
        ],
    }


def run(assets: list[Any], **kwargs: Any) -> dict[str, Any]:
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(assets, instance=instance, raise_on_error=False, **kwargs)
    return record(result, instance)


def baton_runs(project: str, module: str, assets: list[str]) -> dict[str, Any]:
    """The Baton Node step of a built project, with its Pipes resource switched to S3."""
    sys.path.insert(0, os.path.join(project, "src"))
    os.environ["BATON_PIPES_S3_INTERVAL"] = "2"
    defs = importlib.import_module(f"{module}.definitions").defs
    if not isinstance(defs, dg.Definitions):
        defs = defs()
    from baton_dagster.assets import PIPES_RESOURCE_KEY

    pipes = defs.resources[PIPES_RESOURCE_KEY]
    runs = {}
    for asset in assets:
        # A new reader per run, as each run's process would have: PipesBlobStoreMessageReader
        # keeps its chunk counter across sessions, so a reused one asks a new session for
        # chunk n+1 first and never sees its messages.
        injector, reader = s3_pipes()
        s3_client = dg.PipesSubprocessClient(
            env=dict(pipes.env or {}), context_injector=injector, message_reader=reader
        )
        # The same code location, its Pipes client switched to S3 as a user would configure it.
        job = dg.Definitions(
            assets=defs.assets,
            asset_checks=defs.asset_checks,
            resources={**defs.resources, PIPES_RESOURCE_KEY: s3_client},
        ).resolve_implicit_global_asset_job_def()
        instance = dg.DagsterInstance.ephemeral()
        result = job.execute_in_process(
            instance=instance,
            asset_selection=[dg.AssetKey.from_user_string(asset)],
            raise_on_error=False,
        )
        runs[asset] = record(result, instance)
    return runs


def main() -> None:
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    out = args[0]
    report: dict[str, Any] = {"dagster_version": dg.__version__}
    if len(args) > 1 and args[1] == "--baton-project":
        report["baton"] = baton_runs(args[2], args[3], args[4:])
        report["bucket_after"] = objects_under("")
    else:
        report["runs"] = {
            "orders": run([orders]),
            "crash": run([crash]),
            "failing": run([failing]),
            "uncaught": run([uncaught]),
        }
    report.update(collected)
    with open(out, "w", encoding="utf-8") as f:
        json.dump(jsonable(report), f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
