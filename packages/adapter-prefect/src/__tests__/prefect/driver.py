"""Test driver: a long-lived Python process that runs the generated flows against a real Prefect.

Reads one JSON request per line on stdin and answers with one line `@@driver {json}` on stdout.
Everything it reports is read back from the Prefect API, not from Python return values.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import traceback
from datetime import datetime, timedelta
from typing import Any

import httpx
from prefect.blocks.system import Secret
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    FlowRunFilter,
    FlowRunFilterId,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.client.schemas.objects import StateType
from prefect.server.schemas.schedules import CronSchedule
from prefect.settings import PREFECT_API_URL
from prefect.states import Scheduled
from prefect.variables import Variable

flows: Any = None  # the generated flows.py, imported on "setup"
TERMINAL = {
    StateType.COMPLETED,
    StateType.FAILED,
    StateType.CRASHED,
    StateType.CANCELLED,
}


def setup(req: dict[str, Any]) -> dict[str, Any]:
    global flows
    from baton_prefect import BatonResource

    for name, value in req.get("secrets", {}).items():
        Secret(value=value).save(name, overwrite=True)
    for name, value in req.get("variables", {}).items():
        Variable.set(name, value, overwrite=True)
    for name, spec in req.get("blocks", {}).items():
        BatonResource(
            values=spec.get("values", {}), secrets=spec.get("secrets", {})
        ).save(name, overwrite=True)
    import flows as generated

    flows = generated
    ids = {d.name: str(d.apply()) for d in flows.deployments()}
    return {"deployments": ids}


def _asset_of(task_run_name: str) -> str:
    return task_run_name.split(" [", 1)[0]


def _final(task_run: Any) -> bool:
    state = task_run.state
    return state is not None and (state.type in TERMINAL or state.name == "NotReady")


def _task_runs(flow_run_id: Any, expected: int, timeout: float = 60) -> list[Any]:
    """Task runs reach the API through the server's event recorder: wait until all are final."""
    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while True:
            runs = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
            )
            runs = [
                r for r in runs if r.name and not r.name.startswith("run_deployment")
            ]
            if len(runs) >= expected and all(_final(r) for r in runs):
                return runs
            if time.monotonic() > deadline:
                states = [(r.name, r.state and r.state.name) for r in runs]
                raise TimeoutError(
                    f"task runs of {flow_run_id} not final after {timeout}s: {states}"
                )
            time.sleep(0.2)


def materialize(req: dict[str, Any]) -> dict[str, Any]:
    params = {
        "assets": req["assets"],
        "partition_key": req.get("partitionKey"),
        "partition_range_start": req.get("rangeStart"),
        "partition_range_end": req.get("rangeEnd"),
    }
    try:
        expected = len(flows.project.plan(**params).assets)
    except Exception:  # noqa: BLE001 — a refused request is part of what the suite tests
        expected = 0  # the flow fails before any task starts
    state = flows.materialize_assets(**params, return_state=True)
    flow_run_id = state.state_details.flow_run_id
    task_runs = _task_runs(flow_run_id, expected)
    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(flow_run_id)
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])
            )
        )
    assets: dict[str, Any] = {}
    by_id = {}
    for run in task_runs:
        asset = _asset_of(run.name)
        by_id[run.id] = asset
        s = run.state
        status = (
            "success"
            if s.type == StateType.COMPLETED
            else "skipped"
            if s.name == "NotReady"
            else "failure"
        )
        assets[asset] = {
            "status": status,
            "attempts": run.run_count,
            "error": s.message if status == "failure" else None,
            "state": s.name,
            "taskRunId": str(run.id),
            "upstream": [str(i.id) for i in run.task_inputs.get("wait_for", [])],
        }
    for asset in req["assets"]:
        if asset not in assets:
            assets[asset] = {
                "status": "failure",
                "attempts": 0,
                "error": flow_run.state.message,
                "state": None,
            }
    checks = []
    for artifact in artifacts:
        if (
            artifact.type != "table"
            or not artifact.key
            or not artifact.key.endswith("-checks")
        ):
            continue
        rows = (
            json.loads(artifact.data)
            if isinstance(artifact.data, str)
            else artifact.data
        )
        for row in rows:
            checks.append(
                {
                    "asset": by_id.get(artifact.task_run_id, artifact.key),
                    "check": row["check"],
                    "passed": row["passed"],
                    "partitionKey": row["partition_key"],
                }
            )
    return {
        "flowRunId": str(flow_run_id),
        "flowName": flows.materialize_assets.name,
        "status": "success"
        if flow_run.state.type == StateType.COMPLETED
        else "failure",
        "message": flow_run.state.message,
        "assets": assets,
        "checks": checks,
    }


def _previous_cron_time(schedule: Any, at: datetime) -> datetime:
    """The latest time <= at of the deployment's cron schedule, as Prefect's scheduler computes it."""
    server_schedule = CronSchedule(
        cron=schedule.cron, timezone=schedule.timezone, day_or=schedule.day_or
    )
    for days in (1, 8, 32, 370):
        dates = asyncio.run(
            server_schedule.get_dates(
                n=100_000, start=at - timedelta(days=days), end=at
            )
        )
        dates = [d for d in dates if d <= at]
        if dates:
            return max(dates)
    raise ValueError(f"no cron time of {schedule.cron} in the year before {at}")


def schedule_tick(req: dict[str, Any]) -> dict[str, Any]:
    at = datetime.fromisoformat(req["at"])
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name(
            f"{flows.materialize_assets.name}/{req['name']}"
        )
        schedule = deployment.schedules[0].schedule
        tick = _previous_cron_time(schedule, at)
        run = client.create_flow_run_from_deployment(
            deployment.id, state=Scheduled(scheduled_time=tick)
        )
        run = client.read_flow_run(run.id)
        client.delete_flow_run(run.id)
    params = {**deployment.parameters, **run.parameters}
    plan = flows.project.plan(
        params.get("assets"),
        params.get("partition_key"),
        params.get("partition_range_start"),
        params.get("partition_range_end"),
        params.get("schedule"),
        scheduled_start=run.expected_start_time,
    )
    requests = (
        []
        if plan.skip_reason
        else [
            {
                "assets": plan.assets,
                "partitionKey": plan.partition_key,
                "runKey": plan.partition_key or run.expected_start_time.isoformat(),
            }
        ]
    )
    return {
        "runRequests": requests,
        "cursor": None,
        "skipReason": plan.skip_reason,
        "cron": schedule.cron,
        "timezone": schedule.timezone,
        "scheduledStart": run.expected_start_time.isoformat(),
    }


def sensor_tick(req: dict[str, Any]) -> dict[str, Any]:
    variable = flows.project.cursor_variable(req["name"])
    if req.get("cursor") is None:
        Variable.unset(variable)
    else:
        Variable.set(variable, req["cursor"], overwrite=True)
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name(
            f"{flows.evaluate_sensor.name}/{req['name']}"
        )
    state = flows.evaluate_sensor(**deployment.parameters, return_state=True)
    if not state.is_completed():
        raise RuntimeError(f"the sensor flow run failed: {state.message}")
    result = state.result()
    with get_client(sync_client=True) as client:
        started = [client.read_flow_run(r["flowRunId"]) for r in result["runRequests"]]
    return {
        "runRequests": [
            {
                "assets": r["assets"],
                "partitionKey": r["partitionKey"],
                "runKey": r["runKey"],
            }
            for r in result["runRequests"]
        ],
        "cursor": Variable.get(variable, default=None),
        "skipReason": result["skipReason"],
        "flowRuns": [
            {
                "id": str(f.id),
                "deployment": str(f.deployment_id),
                "parameters": f.parameters,
                "key": f.idempotency_key,
            }
            for f in started
        ],
    }


def logs(req: dict[str, Any]) -> dict[str, Any]:
    with get_client(sync_client=True) as client:
        time.sleep(1.5)  # logs are shipped in batches
        found = client.read_logs(
            log_filter=LogFilter(
                flow_run_id=LogFilterFlowRunId(any_=[req["flowRunId"]])
            )
        )
        run = client.read_flow_run(req["flowRunId"])
        task_runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[req["flowRunId"]]))
        )
    return {
        "messages": [entry.message for entry in found],
        "parameters": run.parameters,
        "taskParameters": [str(t.task_inputs) for t in task_runs],
    }


def events(req: dict[str, Any]) -> dict[str, Any]:
    """Prefect asset events related to the flow run, read from the events API."""
    related = {"id": [f"prefect.flow-run.{req['flowRunId']}"]}
    body = {
        "filter": {"event": {"prefix": ["prefect.asset."]}, "related": related},
        "limit": 50,
    }
    deadline = time.monotonic() + 30
    while True:
        response = httpx.post(f"{PREFECT_API_URL.value()}/events/filter", json=body)
        response.raise_for_status()
        found = [
            {
                "event": e["event"],
                "resource": e["resource"],
                "related": e["related"],
                "payload": e["payload"],
            }
            for e in response.json()["events"]
        ]
        if len(found) >= req.get("expected", 1) or time.monotonic() > deadline:
            return {"events": found}
        time.sleep(0.5)


OPS = {
    "setup": setup,
    "materialize": materialize,
    "schedule_tick": schedule_tick,
    "sensor_tick": sensor_tick,
    "logs": logs,
    "events": events,
}


def main() -> None:
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        try:
            reply = {"id": req["id"], "ok": True, "result": OPS[req["op"]](req)}
        except Exception as e:  # noqa: BLE001 — the driver reports every error to its caller
            reply = {
                "id": req["id"],
                "ok": False,
                "error": f"{type(e).__name__}: {e}",
                "trace": traceback.format_exc(),
            }
        sys.stdout.write("@@driver " + json.dumps(reply, default=str) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
