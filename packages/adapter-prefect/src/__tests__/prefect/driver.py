"""Test driver: a long-lived Python process that runs the generated flows against a real Prefect.

Reads one JSON request per line on stdin and answers with one line `@@driver {json}` on stdout.
Everything it reports is read back from the Prefect API, not from Python return values.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from prefect.blocks.system import Secret
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    FlowRunFilter,
    FlowRunFilterId,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.client.schemas.objects import StateType
from prefect.events.worker import EventsWorker
from prefect.exceptions import ObjectAlreadyExists
from prefect.logging.handlers import APILogWorker
from prefect.server.schemas.schedules import CronSchedule
from prefect.settings import PREFECT_API_URL
from prefect.states import Crashed, Scheduled
from prefect.variables import Variable

flows: Any = None  # the generated flows.py, imported on "setup"
# The process work pool the driver applies the deployments to (no worker polls it).
WORK_POOL = "baton-driver"
# Deadlines are generous: a loaded two-core machine runs eight Prefect clients at once.
WAIT_SECONDS = 240
# Flow runs started with `prefect flow-run execute` (the cancellation case), by flow run id.
running: dict[str, subprocess.Popen[bytes]] = {}
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
    # As a worker's deployments (`d.apply(work_pool_name=...)`, or `prefect deploy`): with the pull
    # step `set_working_directory`, `prefect flow-run execute` runs them in the project folder.
    with (
        get_client(sync_client=True) as client,
        contextlib.suppress(ObjectAlreadyExists),
    ):
        client.create_work_pool(WorkPoolCreate(name=WORK_POOL, type="process"))
    ids = {d.name: str(d.apply(work_pool_name=WORK_POOL)) for d in flows.deployments()}
    return {"deployments": ids}


def _asset_of(task_run_name: str) -> str:
    """The asset of a task run: "<asset> [<key>]", or Prefect's "<asset>-<dynamic key>" for a
    run that never began (NotReady keeps the default name)."""
    name = task_run_name.split(" [", 1)[0]
    assets = flows.project.manifest.assets
    if name not in assets and name.rpartition("-")[0] in assets:
        return name.rpartition("-")[0]
    return name


def _final(task_run: Any) -> bool:
    state = task_run.state
    return state is not None and (state.type in TERMINAL or state.name == "NotReady")


def _wait(
    what: str, condition: Callable[[], Any], timeout: float = WAIT_SECONDS
) -> Any:
    """Poll ``condition`` until it returns something other than None or False; fail naming
    what was awaited."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value is not None and value is not False:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.2)


def _task_runs(flow_run_id: Any, expected: int) -> list[Any]:
    """Task runs reach the API through the server's event recorder: wait until all are final."""
    seen: list[Any] = []

    def final() -> list[Any] | None:
        with get_client(sync_client=True) as client:
            runs = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
            )
        runs = [r for r in runs if r.name and not r.name.startswith("run_deployment")]
        seen[:] = runs
        done = len(runs) >= expected and all(_final(r) for r in runs)
        return runs if done else None

    try:
        return _wait(
            f"{expected} task runs of flow run {flow_run_id} to be final", final
        )
    except TimeoutError as e:
        states = [(r.name, r.state and r.state.name) for r in seen]
        raise TimeoutError(f"{e}; seen: {states}") from None


def _drain() -> None:
    """Send what this process's Prefect client still holds (logs and events go in batches)."""
    APILogWorker.drain_all(timeout=WAIT_SECONDS)
    EventsWorker.drain_all(timeout=WAIT_SECONDS)


def _all_task_runs(flow_run_id: Any) -> list[Any]:
    """Every task run of the flow run as Prefect has it now (a sensor's are the placeholders of
    the deployment runs it started, which stay Scheduled)."""
    with get_client(sync_client=True) as client:
        return client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
        )


def _api(method: str, path: str, body: Any = None) -> Any:
    response = httpx.request(method, f"{PREFECT_API_URL.value()}{path}", json=body)
    response.raise_for_status()
    return response.json()


def _events(flow_run_id: Any) -> list[dict[str, Any]]:
    """Every event Prefect stored for the flow run: about it, or naming it as related."""
    found: dict[str, dict[str, Any]] = {}
    run = f"prefect.flow-run.{flow_run_id}"
    for where in ({"related": {"id": [run]}}, {"resource": {"id": [run]}}):
        page = _api(
            "POST",
            "/events/filter",
            {
                "filter": {**where, "occurred": {"since": "2000-01-01T00:00:00Z"}},
                "limit": 50,
            },
        )
        while True:
            for e in page["events"]:
                found[e["id"]] = e
            if not page.get("next_page"):
                break
            response = httpx.get(page["next_page"])
            response.raise_for_status()
            page = response.json()
    return sorted(found.values(), key=lambda e: (e["occurred"], e["id"]))


def _asset_events(flow_run_id: Any, expected: int) -> list[dict[str, Any]]:
    """The run's `prefect.asset.materialization.*` events, once each task that ran emitted one."""

    def enough() -> list[dict[str, Any]] | None:
        events = [
            e
            for e in _events(flow_run_id)
            if e["event"].startswith("prefect.asset.materialization.")
        ]
        return events if len(events) >= expected else None

    if expected == 0:
        return []
    return _wait(
        f"{expected} asset materialization events of flow run {flow_run_id}", enough
    )


def _materializations(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each materialization of the run's asset events, with its user metadata (the payload's
    ``user``; a task run of several partitions has one entry per partition)."""
    found = []
    for e in events:
        if e["event"] != "prefect.asset.materialization.succeeded":
            continue
        # The key is the output's store location; the resource's name is the asset id.
        asset = e["resource"]["prefect.resource.name"]
        payload = e.get("payload") or {}
        entries = payload.get("partitions") or [payload]
        found += [
            {
                "asset": asset,
                "partitionKey": p.get("partition_key"),
                "metadata": p.get("user") or {},
                # A table output: the table and snapshot the event's payload names.
                **(
                    {"table": {"name": p["table"], "snapshotId": p["snapshot_id"]}}
                    if "snapshot_id" in p
                    else {}
                ),
            }
            for p in entries
        ]
    return found


def _is_check(task_run_name: str) -> bool:
    """A check's task run: "check <asset>:<name>[ [<key>]]" (asset ids have no spaces)."""
    return task_run_name.startswith("check ")


def _records_text(
    flow_run_id: Any, task_runs: list[Any], events: list[dict[str, Any]], returned: Any
) -> str:
    """Everything Prefect keeps about the run as text: the flow run and its states, the task runs
    and their states, logs, events (with their resources) and artifacts, plus what it returned."""
    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(flow_run_id)
        parts: list[Any] = [
            flow_run.model_dump(mode="json"),
            [
                s.model_dump(mode="json")
                for s in client.read_flow_run_states(flow_run_id)
            ],
        ]
        for run in task_runs:
            parts.append(run.model_dump(mode="json"))
            parts.append(
                [s.model_dump(mode="json") for s in client.read_task_run_states(run.id)]
            )
        logs = client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id]))
        )
        parts.append([entry.model_dump(mode="json") for entry in logs])
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])
            )
        )
        parts.append([a.model_dump(mode="json") for a in artifacts])
    parts += [events, returned]
    return "\n".join(json.dumps(p, default=str, sort_keys=True) for p in parts)


def _expected_tasks(params: dict[str, Any]) -> int:
    """Task runs the flow starts: one per asset, a partitioned one one per partition key."""
    try:
        plan = flows.project.plan(**params)
    except Exception:  # noqa: BLE001 — a refused request is part of what the suite tests
        return 0  # the flow fails before any task starts
    runs = 0
    for a in plan.assets:
        standalone = [
            c for c in flows.project.manifest.asset(a)["checks"] if c.get("standalone")
        ]
        # The asset's task runs, and as many of each of its standalone checks.
        runs += len(plan.keys.get(a, [None])) * (1 + len(standalone))
    return runs


def _params(req: dict[str, Any]) -> dict[str, Any]:
    return {
        "assets": req["assets"],
        "partition_key": req.get("partitionKey"),
        "partition_range_start": req.get("rangeStart"),
        "partition_range_end": req.get("rangeEnd"),
    }


@contextlib.contextmanager
def _environment(env: dict[str, str]) -> Iterator[None]:
    """Variables for one run only (e.g. a BATON_NODE that does not exist)."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def materialize(req: dict[str, Any]) -> dict[str, Any]:
    params = _params(req)
    with _environment(req.get("env", {})):
        state = flows.materialize_assets(**params, return_state=True)
    _drain()
    returned = state.result(raise_on_failure=False)
    if isinstance(returned, BaseException):
        returned = f"{type(returned).__name__}: {returned}"
    return _collect(
        state.state_details.flow_run_id, req, _expected_tasks(params), returned
    )


def run_checks(req: dict[str, Any]) -> dict[str, Any]:
    """A run of the checks flow (checks alone against the stored outputs), as a user starts
    it with the checks parameter, reported from Prefect's records."""
    params = {
        "checks": req["checks"],
        "partition_key": req.get("partitionKey"),
    }
    state = flows.check_assets(**params, return_state=True)
    _drain()
    returned = state.result(raise_on_failure=False)
    if isinstance(returned, BaseException):
        returned = f"{type(returned).__name__}: {returned}"
    try:
        plan, selected = flows.project.plan_checks(**params)
        expected = sum(
            len(plan.keys.get(a, [None])) * len(selected[a]) for a in plan.assets
        )
    except Exception:  # noqa: BLE001 — a refused request fails the flow before any task
        expected = 0
    return _collect(
        state.state_details.flow_run_id,
        {"assets": []},
        expected,
        returned,
        flow_name=flows.check_assets.name,
    )


def start_run(req: dict[str, Any]) -> dict[str, Any]:
    """Create a run of the `materialize` deployment and execute it as Prefect's own supervisor
    does (`prefect flow-run execute`), in the background: it can then be cancelled."""
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name(
            f"{flows.materialize_assets.name}/materialize"
        )
        run = client.create_flow_run_from_deployment(
            deployment.id, parameters=_params(req)
        )
    prefect = Path(sys.executable).with_name("prefect")
    log = open(Path(req["logFile"]), "ab")  # noqa: SIM115 — the child keeps it
    running[str(run.id)] = subprocess.Popen(
        [str(prefect), "flow-run", "execute", str(run.id)],
        cwd=Path(flows.__file__).parent,
        env=os.environ.copy(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return {"flowRunId": str(run.id), "pid": running[str(run.id)].pid}


def run_deployment(req: dict[str, Any]) -> dict[str, Any]:
    """A run of a deployment with only its own parameters (the UI's Quick run), executed by
    `prefect flow-run execute` as a worker would, reported from Prefect's records."""
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name(
            f"{flows.materialize_assets.name}/{req['deployment']}"
        )
        run = client.create_flow_run_from_deployment(deployment.id)
    prefect = Path(sys.executable).with_name("prefect")
    with open(Path(req["logFile"]), "ab") as log:
        subprocess.run(
            [str(prefect), "flow-run", "execute", str(run.id)],
            cwd=Path(flows.__file__).parent,
            env=os.environ.copy(),
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=WAIT_SECONDS,
            check=False,
        )
    return _collect(run.id, {"assets": []}, req["expected"], None)


def cancel_run(req: dict[str, Any]) -> dict[str, Any]:
    """Cancel the flow run as a user does: `prefect flow-run cancel <id>`."""
    prefect = Path(sys.executable).with_name("prefect")
    done = subprocess.run(
        [str(prefect), "flow-run", "cancel", req["flowRunId"]],
        capture_output=True,
        text=True,
        check=False,
        timeout=WAIT_SECONDS,
    )
    return {"exitCode": done.returncode, "output": done.stdout + done.stderr}


def finish_run(req: dict[str, Any]) -> dict[str, Any]:
    """Wait for a started run to end (the supervisor exits) and report it from Prefect's records."""
    flow_run_id = req["flowRunId"]
    process = running.pop(flow_run_id)
    try:
        process.wait(timeout=WAIT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        raise TimeoutError(
            f"timed out after {WAIT_SECONDS}s waiting for `prefect flow-run execute "
            f"{flow_run_id}` to exit"
        ) from None

    def terminal() -> bool:
        with get_client(sync_client=True) as client:
            state = client.read_flow_run(flow_run_id).state
        return state is not None and state.type in TERMINAL

    _wait(f"flow run {flow_run_id} to reach a terminal state", terminal)
    return _collect(flow_run_id, req, 0, None, settle=False)


def abandon_run(req: dict[str, Any]) -> dict[str, Any]:
    """After a test killed a started run's processes: reap them and mark the run Crashed, as
    Prefect's own crash detection would once it noticed."""
    flow_run_id = req["flowRunId"]
    process = running.pop(flow_run_id)
    process.kill()
    process.wait(timeout=WAIT_SECONDS)
    with get_client(sync_client=True) as client:
        client.set_flow_run_state(
            flow_run_id, Crashed(message="killed by the test"), force=True
        )
    return {"flowRunId": flow_run_id}


def _collect(
    flow_run_id: Any,
    req: dict[str, Any],
    expected: int,
    returned: Any,
    settle: bool = True,
    flow_name: str | None = None,
) -> dict[str, Any]:
    """A DriverRun read back from Prefect's API: flow- and task-run states, asset events, checks.

    With ``settle``, waits until every task run is final and each one that ran has its asset
    event; a killed (cancelled) run is read as Prefect has it.
    """
    if settle:
        task_runs = _task_runs(flow_run_id, expected)
    else:
        task_runs = _all_task_runs(flow_run_id)
    # A check's task run writes nothing: it has no asset event, and is no asset of the run.
    checked = [r for r in task_runs if _is_check(r.name)]
    task_runs = [r for r in task_runs if not _is_check(r.name)]
    ran = [
        r
        for r in task_runs
        if r.run_count > 0
        and r.state.type in (StateType.COMPLETED, StateType.FAILED)
        # A cache hit emits no asset event (prefect/context.py AssetContext).
        and r.state.name != "Cached"
    ]
    asset_events = _asset_events(flow_run_id, len(ran) if settle else 0)
    if not settle:
        asset_events = [
            e
            for e in _events(flow_run_id)
            if e["event"].startswith("prefect.asset.materialization.")
        ]
    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(flow_run_id)
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])
            )
        )
    assets: dict[str, Any] = {}
    by_id = {}
    # An asset's partitions are task runs of their own: the asset failed if one did, was
    # skipped if none ran, and its attempts are the most any of them took.
    rank = {"failure": 0, "skipped": 1, "success": 2}
    for run in sorted(task_runs, key=lambda r: r.name):
        asset = _asset_of(run.name)
        by_id[run.id] = asset
        s = run.state
        status = (
            "success"
            if s.type == StateType.COMPLETED
            else "skipped"
            if s.name == "NotReady" or s.type == StateType.CANCELLED
            else "failure"
        )
        seen = assets.get(asset)
        if seen is not None and rank[seen["status"]] <= rank[status]:
            seen["attempts"] = max(seen["attempts"], run.run_count)
            seen["taskRuns"] += 1
            continue
        assets[asset] = {
            "status": status,
            "attempts": max(run.run_count, seen["attempts"] if seen else 0),
            "error": s.message if status == "failure" else None,
            "state": s.name,
            "taskRunId": str(run.id),
            "upstream": [str(i.id) for i in run.task_inputs.get("wait_for", [])],
            "taskRuns": 1 + (seen["taskRuns"] if seen else 0),
        }
    for asset in req["assets"]:
        if asset not in assets:
            cancelled = flow_run.state.type == StateType.CANCELLED
            assets[asset] = {
                "status": "skipped" if cancelled else "failure",
                "attempts": 0,
                "error": None if cancelled else flow_run.state.message,
                "state": None,
            }
    checks = []
    for artifact in artifacts:
        # An asset's own checks are "<asset>-checks"; each check task run's "<asset>-<check>-check".
        if (
            artifact.type != "table"
            or not artifact.key
            or not artifact.key.endswith(("-checks", "-check"))
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
                    "asset": row.get("asset")
                    or by_id.get(artifact.task_run_id, artifact.key),
                    "check": row["check"],
                    "passed": row["passed"],
                    "partitionKey": row["partition_key"],
                }
            )
    state = flow_run.state
    return {
        "flowRunId": str(flow_run_id),
        "flowName": flow_name or flows.materialize_assets.name,
        "status": "success" if state.type == StateType.COMPLETED else "failure",
        "state": state.name,
        "message": state.message,
        "assets": assets,
        "checks": checks,
        "materializations": _materializations(asset_events),
        "recordsText": _records_text(
            flow_run_id, task_runs + checked, _events(flow_run_id), returned
        ),
        "checkRuns": [
            {
                "name": r.name,
                "state": r.state.name,
                "taskRunId": str(r.id),
                "upstream": [str(i.id) for i in r.task_inputs.get("wait_for", [])]
                + [
                    str(i.id)
                    for i in r.task_inputs.get("upstream", [])
                    if hasattr(i, "id")
                ],
            }
            for r in checked
        ],
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
        states = client.read_flow_run_states(run.id)
        client.delete_flow_run(run.id)
    records = [
        deployment.model_dump(mode="json"),
        run.model_dump(mode="json"),
        [s.model_dump(mode="json") for s in states],
    ]
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
        "recordsText": "\n".join(json.dumps(r, default=str) for r in records),
    }


def _logs(flow_run_id: Any) -> list[Any]:
    with get_client(sync_client=True) as client:
        return client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id]))
        )


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
    # One tick (period 0), as the deployment's run would evaluate first; its run polls for an hour.
    params = {**deployment.parameters, "period_seconds": 0}
    with _environment(req.get("env", {})):
        state = flows.evaluate_sensor(**params, return_state=True)
    _drain()
    if not state.is_completed():
        raise RuntimeError(f"the sensor flow run failed: {state.message}")
    result = state.result()
    flow_run_id = state.state_details.flow_run_id
    with get_client(sync_client=True) as client:
        started = [client.read_flow_run(r["flowRunId"]) for r in result["runRequests"]]
        cursor = Variable.get(variable, default=None)
    return {
        "runRequests": [
            {
                "assets": r["assets"],
                "partitionKey": r["partitionKey"],
                "runKey": r["runKey"],
            }
            for r in result["runRequests"]
        ],
        "cursor": cursor,
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
        "flowRunId": str(flow_run_id),
        "logs": [{"level": e.level, "message": e.message} for e in _logs(flow_run_id)],
        "recordsText": _records_text(
            flow_run_id,
            _all_task_runs(flow_run_id),
            _events(flow_run_id),
            [result, {"cursor_variable": cursor}],
        ),
    }


def sensor_schedule(req: dict[str, Any]) -> dict[str, Any]:
    """Turn a sensor deployment's schedule on or off as the UI's toggle does, then apply every
    deployment again as restarting `python flows.py` does (keep_sensor_schedules); the schedule's
    states before and after."""
    name = f"{flows.evaluate_sensor.name}/{req['name']}"
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name(name)
        before = [s.active for s in deployment.schedules]
        for s in deployment.schedules:
            client.update_deployment_schedule(deployment.id, s.id, active=req["active"])
    for d in flows.project.keep_sensor_schedules(flows.deployments()):
        d.apply(work_pool_name=WORK_POOL)
    with get_client(sync_client=True) as client:
        after = [s.active for s in client.read_deployment_by_name(name).schedules]
    return {"before": before, "after": after}


def logs(req: dict[str, Any]) -> dict[str, Any]:
    """The run's log messages, once at least ``expected`` have been shipped (they go in batches)."""

    def shipped() -> list[Any] | None:
        with get_client(sync_client=True) as client:
            found = client.read_logs(
                log_filter=LogFilter(
                    flow_run_id=LogFilterFlowRunId(any_=[req["flowRunId"]])
                )
            )
        wanted = req.get("contains")
        if wanted is not None:
            return found if any(wanted in e.message for e in found) else None
        return found if found else None

    what = f'a log line containing "{req["contains"]}"' if "contains" in req else "logs"
    found = _wait(f"{what} of flow run {req['flowRunId']}", shipped)
    with get_client(sync_client=True) as client:
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
    """Prefect asset events of the flow run, read from the events API."""
    found = [
        e for e in _events(req["flowRunId"]) if e["event"].startswith("prefect.asset.")
    ]
    expected = req.get("expected", 1)
    if len(found) < expected:

        def enough() -> list[dict[str, Any]] | None:
            events = [
                e
                for e in _events(req["flowRunId"])
                if e["event"].startswith("prefect.asset.")
            ]
            return events if len(events) >= expected else None

        found = _wait(f"{expected} asset events of flow run {req['flowRunId']}", enough)
    keep = ("event", "resource", "related", "payload")
    return {"events": [{k: e[k] for k in keep} for e in found]}


def artifacts(req: dict[str, Any]) -> dict[str, Any]:
    """The run's table artifacts by key, each with its rows (Prefect keeps them as JSON text)."""
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[req["flowRunId"]])
            )
        )
    return {
        "artifacts": [
            {
                "key": a.key,
                "type": a.type,
                "rows": json.loads(a.data) if isinstance(a.data, str) else a.data,
            }
            for a in found
            if a.type == "table"
        ]
    }


OPS = {
    "setup": setup,
    "materialize": materialize,
    "run_checks": run_checks,
    "schedule_tick": schedule_tick,
    "sensor_tick": sensor_tick,
    "sensor_schedule": sensor_schedule,
    "logs": logs,
    "events": events,
    "artifacts": artifacts,
    "start_run": start_run,
    "cancel_run": cancel_run,
    "run_deployment": run_deployment,
    "finish_run": finish_run,
    "abandon_run": abandon_run,
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
