"""Baton sensors on Prefect: one long-lived flow run per sensor and period, ticking inside it.

Prefect has no sensor primitive. A flow run per tick (a deployment on a one-minute interval)
fills the run list with 1,440 runs a day; so the sensor deployment's schedule starts one flow run
per period (an hour, or the sensor's interval when longer), and that run evaluates the sensor
every ``minimumIntervalSeconds`` until the period ends, logging each tick (and the sensor's own
``log`` lines) to its run logger. The cursor lives in a Prefect Variable between ticks and runs;
run requests start the target deployment with ``run_deployment`` under an idempotency key.

Why not events and an automation (a ``DeploymentEventTrigger`` on the target)? A Baton sensor is a
function that looks, not an event source, so a poller would still have to emit the events; and an
automation's ``run-deployment`` action keys its flow run by automation, action and invocation
(prefect 3.9.1 ``server/events/schemas/automations.py`` ``TriggeredAction.idempotency_key``), not by
the sensor's run key, which must start one run ever.

A sensor deployment's schedule is created off and, when served again, keeps the state the user
gave it (``keep_sensor_schedules``): nothing polls until the user turns the schedule on, as
Dagster's sensors start stopped and Airflow's DAGs start paused.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from prefect import get_run_logger
from prefect.client.orchestration import get_client
from prefect.deployments import run_deployment
from prefect.exceptions import ObjectNotFound
from prefect.runtime import deployment as this_deployment
from prefect.runtime import flow_run
from prefect.variables import Variable

from baton_core.step import log_level

from .errors import BatonError, BatonRunError, BatonStepError
from .sync import sync_result

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment

    from .project import BatonProject

# How long one sensor flow run polls, unless the sensor's own interval is longer: 24 flow runs a
# day per sensor, each holding its ticks' logs.
SENSOR_PERIOD_SECONDS = 3600
# The anchor of the sensor deployments' Interval schedules: periods start at full hours (UTC), and
# a run started by hand polls until the period ends, when the scheduled run takes over.
SENSOR_ANCHOR = datetime(2024, 1, 1, tzinfo=UTC)


def sensor_period(minimum_interval_seconds: float) -> int:
    """The seconds one sensor flow run polls, and its deployment's schedule interval: a whole
    number of intervals (so the next run's first tick is an interval after this run's last), at
    least an hour."""
    interval = max(float(minimum_interval_seconds), 1.0)
    return int(math.ceil(max(SENSOR_PERIOD_SECONDS, interval) / interval) * interval)


SENSOR_TAG = "baton-sensor"


def keep_sensor_schedules(
    deployments: list[RunnerDeployment],
) -> list[RunnerDeployment]:
    """``deployments`` with each sensor deployment's schedule (tag ``baton-sensor``) on or off as
    the user last set it in Prefect; a deployment Prefect does not have yet keeps its schedule off.
    Applying a deployment replaces its schedules, so without this serving again would switch every
    sensor back off."""
    with get_client(sync_client=True) as client:
        for d in deployments:
            if SENSOR_TAG not in (d.tags or []) or not d.schedules:
                continue
            try:
                existing = client.read_deployment_by_name(f"{d.flow_name}/{d.name}")
            except ObjectNotFound:
                continue
            active = any(s.active for s in existing.schedules)
            d.schedules = [s.model_copy(update={"active": active}) for s in d.schedules]
    return deployments


def _turned_off() -> str | None:
    """Why the deployment of this flow run no longer polls (paused, or its schedule turned off),
    read between ticks; None while it is on, or for a run outside a deployment."""
    # prefect.runtime.deployment.get_id (prefect/runtime/deployment.py): None outside a deployment.
    deployment_id = this_deployment.get_id()
    if deployment_id is None:
        return None
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment(deployment_id)
    if deployment.paused:
        return "its deployment was paused"
    if deployment.schedules and not any(s.active for s in deployment.schedules):
        return "its schedule was turned off"
    return None


def period_end(start: float, period_seconds: float) -> float:
    """When the period of ``start`` ends: periods of ``period_seconds`` from SENSOR_ANCHOR, as
    the sensor deployment's schedule starts them; ``start`` itself for a period of 0."""
    if period_seconds <= 0:
        return start
    anchor = SENSOR_ANCHOR.timestamp()
    return anchor + (math.floor((start - anchor) / period_seconds) + 1) * period_seconds


def run_sensor(
    project: BatonProject, sensor: str, target: str, period_seconds: float = 0
) -> dict[str, Any]:
    """The body of the sensor flow: evaluate ``sensor`` every ``minimumIntervalSeconds`` until the
    period of the run's scheduled start ends (``period_end``; at least once), starting ``target``
    per run request.

    A failing tick is logged as an error and the next one runs, as a Dagster sensor keeps
    ticking; the flow run then fails, naming how many ticks failed. A run of one tick
    (``period_seconds`` 0) raises the tick's own error. A sensor whose deployment is paused or
    whose schedule is off ticks no more: a run started by hand then evaluates one tick.
    """
    logger = get_run_logger()
    interval = max(
        float(project.manifest.sensor(sensor)["minimumIntervalSeconds"]), 1.0
    )
    scheduled = flow_run.get_scheduled_start_time()
    start = scheduled.timestamp() if scheduled is not None else time.time()
    deadline = period_end(min(start, time.time()), period_seconds)
    ticks: list[dict[str, Any]] = []
    failures: list[str] = []
    number = 0
    while True:
        number += 1
        began = time.time()
        try:
            tick = evaluate_tick(project, sensor, target, number)
            ticks.append(tick)
        except BatonError as e:
            if period_seconds <= 0:
                raise
            failures.append(str(e))
            logger.error("Tick %d of %s failed: %s", number, sensor, e)
        following = began + interval
        if following >= deadline:
            break
        # Off already (a run started by hand), or turned off while it waited: no further tick.
        off = _turned_off()
        if off is None:
            time.sleep(max(0.0, following - time.time()))
            off = _turned_off()
        if off is not None:
            logger.info("Sensor %s stops after tick %d: %s", sensor, number, off)
            break
    if failures:
        raise BatonRunError(
            f"{len(failures)} of {number} ticks of sensor {sensor} failed; the last: "
            + failures[-1]
        )
    last = ticks[-1]
    return {
        "ticks": number,
        "runRequests": [r for t in ticks for r in t["runRequests"]],
        "cursor": last["cursor"],
        "skipReason": last["skipReason"],
    }


def evaluate_tick(
    project: BatonProject, sensor: str, target: str, number: int = 1
) -> dict[str, Any]:
    """One tick of the TypeScript sensor (its cursor a Prefect Variable), then one run of
    ``target`` per run request. The sensor's ``log`` lines go to the run logger at their level."""
    from .project import _step_error, _verdict

    logger = get_run_logger()
    spec = project.manifest.sensor(sensor)
    variable = project.cursor_variable(sensor)
    cursor = Variable.get(variable, default=None)
    environment = project.environment(spec["resources"])
    args = ["--name", sensor] + ([] if cursor is None else ["--cursor", str(cursor)])

    def on_event(event: dict[str, Any]) -> None:
        if event["type"] == "log":
            logger.log(
                log_level(event["level"]),
                environment.redact(event["message"]),
            )

    result = project._run_step("sensor", args, environment, logger, on_event)
    if result.exit_code != 0:
        raise _step_error(
            BatonStepError, sensor, result, _verdict(result, []), environment
        )
    if result.tick is None:
        raise BatonError(f'the sensor step for "{sensor}" reported no tick')
    # Skip reasons, cursors and run keys are the user's text: mask secrets before storing any.
    tick = environment.redact_all(result.tick)
    requested = []
    for request in tick["runRequests"]:
        run_key = request["runKey"]
        run = sync_result(
            run_deployment(
                target,
                parameters={
                    "assets": request["assets"],
                    "partition_key": request["partitionKey"],
                },
                idempotency_key=f"{sensor}:{run_key}" if run_key is not None else None,
                tags=[
                    f"baton-sensor:{sensor}",
                    *(f"{k}:{v}" for k, v in request["tags"].items()),
                ],
                timeout=0,
            )
        )
        logger.info("Run request %s -> flow run %s (%s)", run_key, run.name, run.id)
        requested.append({**request, "flowRunId": str(run.id)})
    if tick["cursor"] is not None and tick["cursor"] != cursor:
        Variable.set(variable, tick["cursor"], overwrite=True)
    outcome = (
        f"skipped: {tick['skipReason']}"
        if tick["skipReason"]
        else f"{len(requested)} run request(s)"
    )
    logger.info("Tick %d of %s: %s; cursor %s", number, sensor, outcome, tick["cursor"])
    return {
        "runRequests": requested,
        "cursor": tick["cursor"],
        "skipReason": tick["skipReason"],
    }
