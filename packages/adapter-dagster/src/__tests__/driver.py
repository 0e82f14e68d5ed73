"""Test driver: one long-lived Python process that runs requests through real Dagster.

Reads one JSON request per line on stdin, answers one JSON line on stdout (prefixed, since
Dagster and Node also print there). Requests:
  {"op": "load", "definitions": PATH, "home": DIR}
  {"op": "graph"}
  {"op": "materialize", "assets": [ID], "partitionKey": K?, "partitionRange": {start, end}?}
  {"op": "schedule", "name": N, "at": ISO}
  {"op": "sensor", "name": N, "cursor": C?}
"""

import importlib.util
import json
import os
import sys
import traceback
from datetime import datetime

import dagster as dg
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluation,
)
from dagster._utils.schedules import reverse_cron_string_iterator

ANSWER = "@@driver "
state: dict = {}


def load(request):
    spec = importlib.util.spec_from_file_location(
        "baton_code_location", request["definitions"]
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    defs = module.defs
    dg.Definitions.validate_loadable(defs)
    os.makedirs(request["home"], exist_ok=True)
    state["defs"] = defs
    state["instance"] = dg.DagsterInstance.local_temp(tempdir=request["home"])
    state["job"] = defs.resolve_implicit_global_asset_job_def()
    return {"ok": True}


def graph(_request):
    """The asset graph as Dagster sees it."""
    job = state["job"]
    graph = job.asset_layer.asset_graph
    assets = {}
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        partitions = node.partitions_def
        assets[key.to_user_string()] = {
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "partitions": None
            if partitions is None
            else {
                "class": type(partitions).__name__,
                "keys": list(partitions.get_partition_keys()[:3]),
                "count": len(partitions.get_partition_keys()),
                "timezone": getattr(partitions, "timezone", None),
                "fmt": getattr(partitions, "fmt", None),
            },
            "mappings": {
                p.to_user_string(): type(graph.get_partition_mapping(key, p)).__name__
                for p in node.parent_keys
                if graph.get(p).partitions_def is not None
            },
            "checks": sorted(c.name for c in node.check_keys),
            "group": node.group_name,
            "kinds": sorted(node.kinds),
            "codeVersion": node.code_version,
            "owners": list(node.owners),
            "op": state_op(key),
        }
    return {"assets": assets}


def state_op(key):
    for assets_def in state["defs"].assets:
        if key in assets_def.keys:
            return assets_def.node_def.name
    return None


def materialize(request):
    selection = [dg.AssetKey(i.split("/")) for i in request["assets"]]
    op_of = {i: state_op(k) for i, k in zip(request["assets"], selection, strict=True)}
    tags = {}
    if request.get("partitionRange"):
        tags = {
            "dagster/asset_partition_range_start": request["partitionRange"]["start"],
            "dagster/asset_partition_range_end": request["partitionRange"]["end"],
        }
    try:
        result = state["job"].execute_in_process(
            asset_selection=selection,
            partition_key=request.get("partitionKey"),
            tags=tags,
            instance=state["instance"],
            raise_on_error=False,
        )
    except Exception as error:  # noqa: BLE001 — invalid requests fail before any step starts
        message = str(error)
        return {
            "status": "failure",
            "assets": {
                i: {"status": "failure", "attempts": 0, "error": message}
                for i in request["assets"]
            },
            "checks": [],
        }
    materialized, starts, failures, skipped_steps, checks = set(), {}, {}, set(), []
    for event in result.all_events:
        kind = event.event_type_value
        if kind == "ASSET_MATERIALIZATION":
            materialized.add(event.asset_key.to_user_string())
        elif kind in ("STEP_START", "STEP_RESTARTED"):
            starts[event.step_key] = starts.get(event.step_key, 0) + 1
        elif kind == "STEP_FAILURE":
            failures[event.step_key] = event.step_failure_data
        elif kind == "STEP_SKIPPED":
            skipped_steps.add(event.step_key)
        elif kind == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            assert isinstance(evaluation, AssetCheckEvaluation)
            checks.append(
                {
                    "asset": evaluation.asset_key.to_user_string(),
                    "check": evaluation.check_name,
                    "passed": evaluation.passed,
                    "partitionKey": request.get("partitionKey"),
                }
            )
    assets = {}
    for asset_id in request["assets"]:
        step = op_of[asset_id]
        attempts = starts.get(step, 0)
        if asset_id in materialized:
            assets[asset_id] = {
                "status": "success",
                "attempts": attempts,
                "error": None,
            }
        elif step in failures:
            failure = failures[step]
            metadata = (
                failure.user_failure_data.metadata if failure.user_failure_data else {}
            )
            failed = (
                metadata["baton/failed"].value if "baton/failed" in metadata else {}
            )
            skipped = (
                metadata["baton/skipped"].value if "baton/skipped" in metadata else {}
            )
            if asset_id in skipped:
                assets[asset_id] = {"status": "skipped", "attempts": 0, "error": None}
            else:
                message = failed.get(asset_id) or (
                    failure.user_failure_data.description
                    if failure.user_failure_data
                    else failure.error.message
                )
                assets[asset_id] = {
                    "status": "failure",
                    "attempts": attempts,
                    "error": message,
                }
        else:
            assets[asset_id] = {"status": "skipped", "attempts": 0, "error": None}
    return {
        "status": "success" if result.success else "failure",
        "assets": assets,
        "checks": checks,
    }


def _ids(keys):
    return sorted(k.to_user_string() for k in keys)


def schedule(request):
    defs, instance = state["defs"], state["instance"]
    schedule_def = defs.resolve_schedule_def(request["name"])
    at = datetime.fromisoformat(request["at"])
    # The daemon evaluates a schedule at its cron times: take the last one at or before `at`.
    tick = next(
        reverse_cron_string_iterator(
            at.timestamp(), schedule_def.cron_schedule, schedule_def.execution_timezone
        )
    )
    context = dg.build_schedule_context(
        instance=instance,
        scheduled_execution_time=tick,
        repository_def=defs.get_repository_def(),
    )
    data = schedule_def.evaluate_tick(context)
    target = _ids(
        defs.resolve_job_def(schedule_def.job_name).asset_layer.selected_asset_keys
    )
    return {
        "runRequests": [
            {
                "assets": _ids(r.asset_selection) if r.asset_selection else target,
                "partitionKey": r.partition_key,
                "runKey": r.run_key,
            }
            for r in data.run_requests or []
        ],
        "cursor": None,
        "skipReason": data.skip_message,
    }


def sensor(request):
    defs, instance = state["defs"], state["instance"]
    sensor_def = defs.resolve_sensor_def(request["name"])
    context = dg.build_sensor_context(
        instance=instance,
        cursor=request.get("cursor"),
        repository_def=defs.get_repository_def(),
        resources=defs.resources,
        sensor_name=request["name"],
    )
    data = sensor_def.evaluate_tick(context)
    return {
        "runRequests": [
            {
                "assets": _ids(r.asset_selection or []),
                "partitionKey": r.partition_key,
                "runKey": r.run_key,
            }
            for r in data.run_requests or []
        ],
        "cursor": data.cursor if data.cursor is not None else request.get("cursor"),
        "skipReason": data.skip_message,
    }


OPS = {
    "load": load,
    "graph": graph,
    "materialize": materialize,
    "schedule": schedule,
    "sensor": sensor,
}

for line in sys.stdin:
    if not line.strip():
        continue
    try:
        request = json.loads(line)
        answer = {"result": OPS[request["op"]](request)}
    except Exception as error:  # noqa: BLE001 — the driver reports every error to its caller
        answer = {
            "error": f"{type(error).__name__}: {error}",
            "trace": traceback.format_exc(),
        }
    sys.stdout.write(ANSWER + json.dumps(answer) + "\n")
    sys.stdout.flush()
