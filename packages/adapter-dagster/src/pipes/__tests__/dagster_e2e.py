"""Real-Dagster end-to-end check of the Node Pipes implementation.

Materializes assets whose compute launches `node dagster-child.mjs <scenario>` through
`dagster.PipesSubprocessClient` (and, for the CLI-argument and SIGINT cases, through
`dagster.open_pipes_session` with a hand-made subprocess), then writes what Dagster recorded
(materialization metadata, check results, custom messages, logs, pipes engine events) as JSON.

Usage:  python dagster_e2e.py OUTPUT.json
Env:    BATON_PIPES_MODULE_URL  file: URL of the built pipes index.js (required)
        BATON_NODE              node executable (default: "node")
"""

import json
import math
import os
import signal
import subprocess
import sys
import warnings

import dagster as dg

warnings.filterwarnings("ignore")

HERE = os.path.dirname(os.path.abspath(__file__))
CHILD = os.path.join(HERE, "dagster-child.mjs")
NODE = os.environ.get("BATON_NODE", "node")

if not os.environ.get("BATON_PIPES_MODULE_URL"):
    sys.exit(
        "BATON_PIPES_MODULE_URL must point at the built pipes index.js (file: URL)"
    )

collected = {"custom": {}, "processes": {}}


def node(scenario):
    return [NODE, CHILD, scenario]


def env_without_pipes():
    return {k: v for k, v in os.environ.items() if not k.startswith("DAGSTER_PIPES_")}


@dg.asset(
    key_prefix=["warehouse"],
    code_version="v7",
    check_specs=[
        dg.AssetCheckSpec("no_nulls", asset=dg.AssetKey(["warehouse", "orders"])),
        dg.AssetCheckSpec("fresh", asset=dg.AssetKey(["warehouse", "orders"])),
    ],
)
def orders(context: dg.AssetExecutionContext, pipes: dg.PipesSubprocessClient):
    invocation = pipes.run(
        command=node("orders"), context=context, extras={"greeting": "hello", "n": 3}
    )
    collected["custom"]["orders"] = list(invocation.get_custom_messages())
    yield from invocation.get_results()


@dg.asset(partitions_def=dg.DailyPartitionsDefinition(start_date="2024-01-01"))
def daily(context: dg.AssetExecutionContext, pipes: dg.PipesSubprocessClient):
    invocation = pipes.run(command=node("daily"), context=context)
    collected["custom"]["daily"] = list(invocation.get_custom_messages())
    yield from invocation.get_results()


@dg.asset
def failing(context: dg.AssetExecutionContext, pipes: dg.PipesSubprocessClient):
    yield from pipes.run(command=node("failing"), context=context).get_results()


@dg.asset
def cli_args(context: dg.AssetExecutionContext):
    with dg.open_pipes_session(
        context=context,
        context_injector=dg.PipesTempFileContextInjector(),
        message_reader=dg.PipesTempFileMessageReader(),
        extras={"via": "cli"},
    ) as session:
        args = []
        for name, value in session.get_bootstrap_cli_arguments().items():
            args += [name, value]
        proc = subprocess.run(
            [*node("cli"), *args], env=env_without_pipes(), check=False
        )
        collected["processes"]["cli_args"] = {"returncode": proc.returncode}
    yield from session.get_results()


@dg.asset
def interrupted(context: dg.AssetExecutionContext):
    with dg.open_pipes_session(
        context=context,
        context_injector=dg.PipesTempFileContextInjector(),
        message_reader=dg.PipesTempFileMessageReader(),
    ) as session:
        proc = subprocess.Popen(
            node("wait"),
            env={**env_without_pipes(), **session.get_bootstrap_env_vars()},
            stderr=subprocess.PIPE,
            text=True,
        )
        ready = proc.stderr.readline().strip()
        # What PipesSubprocessClient does when the run is terminated (forward_termination).
        proc.send_signal(signal.SIGINT)
        returncode = proc.wait(timeout=20)
        collected["processes"]["interrupted"] = {
            "ready": ready,
            "returncode": returncode,
        }
    collected["processes"]["interrupted"]["received_closed"] = (
        session.message_handler.received_closed_message
    )
    yield from session.get_results()


def jsonable(value):
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


def describe_metadata(metadata):
    return {
        key: {
            "class": type(value).__name__,
            "py_type": type(value.value).__name__,
            "value": jsonable(value.value),
        }
        for key, value in metadata.items()
    }


def describe_error(error):
    if error is None:
        return None
    return {
        "message": error.message,
        "cls_name": error.cls_name,
        "stack": list(error.stack),
        "cause": describe_error(error.cause),
        "context": describe_error(error.context),
    }


def run(assets, name, **kwargs):
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        assets,
        resources={"pipes": dg.PipesSubprocessClient()},
        instance=instance,
        raise_on_error=False,
        **kwargs,
    )
    materializations = []
    for event in result.get_asset_materialization_events():
        mat = event.step_materialization_data.materialization
        materializations.append(
            {
                "asset_key": mat.asset_key.path,
                "partition": mat.partition,
                "tags": dict(mat.tags or {}),
                "metadata": describe_metadata(mat.metadata),
            }
        )
    checks = [
        {
            "asset_key": evaluation.asset_key.path,
            "check_name": evaluation.check_name,
            "passed": evaluation.passed,
            "severity": evaluation.severity.value,
            "metadata": describe_metadata(evaluation.metadata),
        }
        for evaluation in result.get_asset_check_evaluations()
    ]
    logs = [
        {"level": entry.level, "message": entry.user_message}
        for entry in instance.all_logs(result.run_id)
        if not entry.is_dagster_event
    ]
    pipes_events = []
    for entry in instance.all_logs(result.run_id):
        event = entry.dagster_event
        if event is not None and event.message and "[pipes]" in event.message:
            pipes_events.append(
                {
                    "event_type": event.event_type_value,
                    "message": event.message,
                    "error": describe_error(
                        getattr(event.event_specific_data, "error", None)
                    ),
                }
            )
    step_failures = [
        describe_error(event.step_failure_data.error)
        for event in result.get_step_failure_events()
    ]
    return {
        "name": name,
        "success": result.success,
        "materializations": materializations,
        "checks": checks,
        "logs": logs,
        "pipes_events": pipes_events,
        "step_failures": step_failures,
    }


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    report = {
        "dagster_version": dg.__version__,
        "runs": {
            "orders": run([orders], "orders"),
            "daily": run([daily], "daily", partition_key="2024-01-02"),
            "failing": run([failing], "failing"),
            "cli_args": run([cli_args], "cli_args"),
            "interrupted": run([interrupted], "interrupted"),
        },
    }
    report.update(collected)
    with open(sys.argv[1], "w", encoding="utf-8") as f:
        json.dump(jsonable(report), f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
