"""Long-lived test driver: imports Airflow once, then serves JSON requests (one per line on stdin).

Replies go to file descriptor 3, one JSON object per line, because Airflow and the tasks run
in this process (``dag.test()``) and write their logs to stdout/stderr. Everything it reports is
read back from Airflow: task states and try numbers from the metadata DB, XComs, Variables and
the DAGs' timetables. Used by the integration tests and the benchmark only.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
import uuid
from datetime import datetime

REPLY = os.fdopen(3, "w", encoding="utf-8", buffering=1)


def reply(value: dict) -> None:
    REPLY.write(json.dumps(value, default=str) + "\n")
    REPLY.flush()


from airflow import settings  # noqa: E402
from airflow.dag_processing.bundles.manager import DagBundlesManager  # noqa: E402
from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db  # noqa: E402
from airflow.models.taskinstance import TaskInstance  # noqa: E402
from airflow.models.xcom import XComModel  # noqa: E402
from sqlalchemy import select  # noqa: E402

DAGS_FOLDER = os.environ["AIRFLOW__CORE__DAGS_FOLDER"]
BUNDLE = "dags-folder"
_bag: BundleDagBag | None = None


def bag(refresh: bool = False) -> BundleDagBag:
    global _bag
    if _bag is None or refresh:
        _bag = BundleDagBag(
            dag_folder=DAGS_FOLDER, bundle_path=DAGS_FOLDER, bundle_name=BUNDLE
        )
    return _bag


def sync() -> dict:
    manager = DagBundlesManager()
    with settings.Session() as session:
        manager.sync_bundles_to_db(session=session)
        session.commit()
    b = bag(refresh=True)
    sync_bag_to_db(b, BUNDLE, None)
    return {"dags": sorted(b.dags), "importErrors": b.import_errors}


def describe() -> dict:
    """The DAGs as Airflow sees them after a DagBag import."""
    b = bag(refresh=True)
    dags = {}
    for dag_id, dag in sorted(b.dags.items()):
        tt = dag.timetable
        dags[dag_id] = {
            "timetable": type(tt).__name__,
            "cron": getattr(tt, "expression", None),
            "timezone": str(getattr(tt, "timezone", "")) or None,
            "startDate": dag.start_date.isoformat() if dag.start_date else None,
            "params": sorted(dag.params.keys()),
            "maxActiveRuns": dag.max_active_runs,
            "tasks": {
                t.task_id: {
                    "displayName": t.task_display_name,
                    "operator": type(t).__name__,
                    "upstream": sorted(t.upstream_task_ids),
                    # An asset's URI; an asset alias has only a name.
                    "outlets": [getattr(o, "uri", None) or o.name for o in t.outlets],
                    "outletNames": [o.name for o in t.outlets],
                    "inlets": sorted(i.uri for i in t.inlets),
                    "retries": t.retries,
                    "retryDelaySeconds": t.retry_delay.total_seconds(),
                    "triggerRule": getattr(t.trigger_rule, "value", t.trigger_rule),
                    "mode": getattr(t, "mode", None),
                    "pokeInterval": float(getattr(t, "poke_interval", 0) or 0),
                }
                for t in dag.tasks
            },
        }
    return {"dags": dags, "importErrors": b.import_errors}


def configure(request: dict) -> dict:
    """Connections and Variables, stored in Airflow's DB as an operator would create them."""
    from airflow.models.connection import Connection
    from airflow.models.variable import Variable

    with settings.Session() as session:
        for c in request.get("connections", []):
            existing = session.scalar(
                select(Connection).where(Connection.conn_id == c["conn_id"])
            )
            if existing:
                session.delete(existing)
                session.commit()
            session.add(Connection(**{**c, "extra": json.dumps(c.get("extra") or {})}))
        session.commit()
    for key, value in request.get("variables", {}).items():
        Variable.set(key, value, serialize_json=not isinstance(value, str))
    return {}


def _run_summary(dag_id: str, run_id: str) -> dict:
    tasks: dict[str, dict] = {}
    with settings.Session() as session:
        for ti in session.scalars(
            select(TaskInstance).where(
                TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id
            )
        ):
            tasks[
                f"{ti.task_id}" if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"
            ] = {
                "state": str(ti.state) if ti.state else None,
                "tryNumber": ti.try_number,
                "displayName": ti.task_display_name,
                "durationSeconds": (ti.end_date - ti.start_date).total_seconds()
                if ti.end_date and ti.start_date
                else None,
            }
        for x in session.scalars(
            select(XComModel).where(
                XComModel.dag_id == dag_id, XComModel.run_id == run_id
            )
        ):
            name = x.task_id if x.map_index < 0 else f"{x.task_id}[{x.map_index}]"
            tasks.setdefault(name, {}).setdefault("xcom", {})[x.key] = (
                XComModel.deserialize_value(x)
            )
    return tasks


def _materializations(dag_id: str, run_id: str) -> list[dict]:
    """The asset events the run emitted (Airflow's own record of what was materialized)."""
    from airflow.models.asset import AssetEvent, AssetModel

    with settings.Session() as session:
        rows = session.execute(
            select(
                AssetModel.name,
                AssetEvent.partition_key,
                AssetEvent.extra,
                AssetEvent.source_task_id,
            )
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(
                AssetEvent.source_dag_id == dag_id, AssetEvent.source_run_id == run_id
            )
            .order_by(AssetEvent.id)
        )
        return [
            {"asset": name, "partitionKey": key, "extra": extra, "taskId": task}
            for name, key, extra, task in rows
        ]


def _records_text(dag_id: str, run_id: str) -> str:
    """Every metadata-DB row about the run, one ``table: {row}`` line each: the DAG run, task
    instances and their history, XComs, asset events, rendered fields, the audit log..."""
    from sqlalchemy import MetaData, true

    meta = MetaData()
    meta.reflect(bind=settings.engine)
    lines = []
    with settings.engine.connect() as conn:
        for name in sorted(meta.tables):
            table = meta.tables[name]
            cols = table.columns
            if "run_id" in cols:
                where = cols["run_id"] == run_id
                if "dag_id" in cols:
                    where = where & (cols["dag_id"] == dag_id)
            elif "source_run_id" in cols:
                where = (cols["source_run_id"] == run_id) & (
                    cols["source_dag_id"] == dag_id
                )
            elif name in ("variable", "log", "trigger", "callback_request"):
                where = true()
            else:
                continue
            for row in conn.execute(select(table).where(where)):
                lines.append(f"{name}: {json.dumps(dict(row._mapping), default=str)}")
    return "\n".join(lines)


def _run_report(dag_id: str, dr) -> dict:
    with settings.Session() as session:
        from airflow.models.dagrun import DagRun

        state = session.scalar(
            select(DagRun.state).where(
                DagRun.dag_id == dag_id, DagRun.run_id == dr.run_id
            )
        )
    return {
        "runId": dr.run_id,
        "state": str(state),
        "dataIntervalStart": dr.data_interval_start.isoformat()
        if dr.data_interval_start
        else None,
        "dataIntervalEnd": dr.data_interval_end.isoformat()
        if dr.data_interval_end
        else None,
        "tasks": _run_summary(dag_id, dr.run_id),
        "materializations": _materializations(dag_id, dr.run_id),
        "recordsText": _records_text(dag_id, dr.run_id),
    }


def dag_test(request: dict) -> dict:
    # Parsed anew for each run, as a fresh `airflow dags test` process (or a worker's task process)
    # parses it: merging a run's conf into its params sets the values of the DAG's own Param
    # objects (process_params in airflow/sdk/definitions/param.py; a copy of the DAG shares them),
    # which would otherwise leak into the next run of this process.
    dag = bag(refresh=True).dags[request["dagId"]]
    logical_date = (
        datetime.fromisoformat(request["logicalDate"])
        if request.get("logicalDate")
        else None
    )
    kwargs = {"run_conf": request.get("conf")}
    if logical_date is not None:
        kwargs["logical_date"] = logical_date
    # Worker environment overrides for this run only (e.g. a BATON_NODE that does not exist).
    saved = {k: os.environ.get(k) for k in request.get("env") or {}}
    os.environ.update(request.get("env") or {})
    try:
        dr = dag.test(**kwargs)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return _run_report(dag.dag_id, dr)


def schedule_tick(request: dict) -> dict:
    """The data interval Airflow's timetable gives the latest run at ``at``, and the partition the
    planner derives from it (the same function the plan task runs)."""
    from airflow.serialization.encoders import coerce_to_core_timetable

    from baton_airflow.runplan import plan_dag_run

    dag = bag().dags[request["dagId"]]
    at = datetime.fromisoformat(request["at"])
    interval = coerce_to_core_timetable(dag.timetable).infer_manual_data_interval(
        run_after=at
    )
    plan_task = dag.get_task("plan")
    plan = plan_dag_run(
        plan_task.manifest,
        plan_task.dag_assets,
        plan_task.schedule,
        {"data_interval_end": interval.end},
        now=at,
    )
    return {
        "dataIntervalStart": interval.start.isoformat(),
        "dataIntervalEnd": interval.end.isoformat(),
        "partitionKey": plan.partition_key,
        "skipReason": plan.skip_reason,
        "assets": list(plan_task.dag_assets),
        "plan": plan.to_xcom(),
    }


def sensor_tick(request: dict) -> dict:
    """Run the sensor DAG's `evaluate` task once (one poke), as `airflow tasks test` would, with
    the cursor Variable set first; report its tick XCom and the stored cursor."""
    from airflow.models.dagrun import get_or_create_dagrun
    from airflow.models.variable import Variable
    from airflow.sdk import timezone
    from airflow.sdk.definitions.dag import _run_task
    from airflow.serialization.encoders import coerce_to_core_timetable
    from airflow.serialization.serialized_objects import DagSerialization
    from airflow.utils.state import TaskInstanceState
    from airflow.utils.types import DagRunTriggeredByType

    from baton_airflow.operators import cursor_variable

    dag = bag().dags[request["dagId"]]
    task = dag.get_task("evaluate")
    variable = cursor_variable(task.sensor_name)
    if request.get("cursor") is None:
        Variable.delete(variable)
    else:
        Variable.set(variable, request["cursor"])
    scheduler_dag = DagSerialization.deserialize_dag(
        DagSerialization.serialize_dag(dag)
    )
    now = timezone.utcnow()
    with settings.Session() as session:
        dr = get_or_create_dagrun(
            dag=scheduler_dag,
            run_id=f"baton_tick__{uuid.uuid4().hex}",
            logical_date=now,
            data_interval=coerce_to_core_timetable(
                dag.timetable
            ).infer_manual_data_interval(run_after=now),
            run_after=now,
            conf=None,
            triggered_by=DagRunTriggeredByType.TEST,
            triggering_user_name="baton_harness",
            start_date=now,
            session=session,
        )
        ti = dr.get_task_instance("evaluate", session=session)
        ti.try_number += 1
        ti.state = TaskInstanceState.SCHEDULED
        session.merge(ti)
        session.commit()
        ti = dr.get_task_instance("evaluate", session=session)
        ti.task = scheduler_dag.get_task("evaluate")
        run_id = dr.run_id
    _run_task(ti=ti, task=task)
    tasks = _run_summary(dag.dag_id, run_id)
    tick = tasks.get("evaluate", {}).get("xcom", {}).get("baton_tick")
    return {
        "recordsText": _records_text(dag.dag_id, run_id),
        "state": tasks.get("evaluate", {}).get("state"),
        "tick": tick,
        "storedCursor": Variable.get(variable, default_var=None),
        "triggers": tasks.get("evaluate", {}).get("xcom", {}).get("return_value"),
    }


def run_report(request: dict) -> dict:
    """The report of a run made elsewhere (the ``airflow dags test`` CLI): its latest, or by id."""
    from airflow.models.dagrun import DagRun

    with settings.Session() as session:
        query = select(DagRun).where(DagRun.dag_id == request["dagId"])
        if request.get("runId"):
            query = query.where(DagRun.run_id == request["runId"])
        dr = session.scalars(query.order_by(DagRun.id.desc())).first()
        session.expunge(dr)
    return _run_report(request["dagId"], dr)


def dag_runs(request: dict) -> dict:
    from airflow.models.dagrun import DagRun

    with settings.Session() as session:
        runs = session.scalars(
            select(DagRun).where(DagRun.dag_id == request["dagId"]).order_by(DagRun.id)
        )
        return {
            "runs": [
                {
                    "runId": r.run_id,
                    "conf": r.conf,
                    "state": str(r.state),
                    "runType": str(r.run_type),
                }
                for r in runs
            ]
        }


def dag_versions(request: dict) -> dict:
    from airflow.models.dag_version import DagVersion

    with settings.Session() as session:
        versions = session.scalars(
            select(DagVersion).where(DagVersion.dag_id == request["dagId"])
        )
        return {"versions": [v.version_number for v in versions]}


def parse_time(request: dict) -> dict:
    """Seconds to import one DAG file, as the DAG processor does (median of ``repeat`` imports)."""
    import time

    times = []
    dags = 0
    for _ in range(request.get("repeat", 5)):
        # As in a fresh DAG-processor child: the module and its manifest cache are imported anew.
        for name in [m for m in sys.modules if m.startswith("baton_airflow")]:
            del sys.modules[name]
        started = time.perf_counter()
        b = BundleDagBag(
            dag_folder=request["path"],
            bundle_path=request.get("bundlePath", DAGS_FOLDER),
            bundle_name=BUNDLE,
            safe_mode=False,
        )
        times.append(time.perf_counter() - started)
        if b.import_errors:
            return {"importErrors": b.import_errors}
        dags = len(b.dags)
        tasks = sum(len(d.tasks) for d in b.dags.values())
    times.sort()
    return {
        "seconds": times[len(times) // 2],
        "all": times,
        "dags": dags,
        "tasks": tasks,
    }


_client = None


def rest(request: dict) -> dict:
    """One call of Airflow's public REST API (/api/v2/...; GET unless ``method`` says otherwise),
    answered by Airflow's own FastAPI app in this process (what the UI calls), as an admin of the
    simple auth manager."""
    global _client
    if _client is None:
        from airflow.api_fastapi.app import create_app
        from fastapi.testclient import TestClient

        os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] = "True"
        _client = TestClient(create_app("core"))
    response = _client.request(
        request.get("method", "GET"),
        request["path"],
        params=request.get("params"),
        json=request.get("json"),
    )
    return {"status": response.status_code, "body": response.json()}


def resume(request: dict) -> dict:
    """Run what a cleared DAG run has left to run, as the scheduler would: the run back to running,
    then dag.test()'s loop over the task instances Airflow finds schedulable (``DagRun.update_state``),
    each run in this process. Cleared task instances run again; the others keep their states."""
    from airflow.models.dagrun import DagRun
    from airflow.sdk.definitions.dag import _run_task
    from airflow.serialization.serialized_objects import DagSerialization
    from airflow.utils.state import DagRunState, TaskInstanceState

    dag = bag(refresh=True).dags[request["dagId"]]
    scheduler_dag = DagSerialization.deserialize_dag(
        DagSerialization.serialize_dag(dag)
    )
    with settings.Session() as session:
        dr = session.scalars(
            select(DagRun).where(
                DagRun.dag_id == request["dagId"], DagRun.run_id == request["runId"]
            )
        ).one()
        dr.dag = scheduler_dag
        dr.state = DagRunState.RUNNING
        session.commit()
        while dr.state == DagRunState.RUNNING:
            session.expire_all()
            schedulable, _ = dr.update_state(session=session)
            for ti in schedulable:
                ti.try_number += 1
                ti.state = TaskInstanceState.SCHEDULED
            session.commit()
            for ti in dr.get_task_instances(session=session):
                if ti.state == TaskInstanceState.SCHEDULED:
                    ti.task = scheduler_dag.get_task(ti.task_id)
                    try:
                        _run_task(ti=ti, task=dag.task_dict[ti.task_id])
                    # As dag.test(): a failing task is recorded failed; the loop goes on.
                    except Exception:  # noqa: BLE001
                        traceback.print_exc()
        run_id = dr.run_id
    with settings.Session() as session:
        dr = session.scalars(
            select(DagRun).where(
                DagRun.dag_id == request["dagId"], DagRun.run_id == run_id
            )
        ).one()
        session.expunge(dr)
    return _run_report(request["dagId"], dr)


OPS = {
    "rest": rest,
    "resume": resume,
    "sync": lambda r: sync(),
    "describe": lambda r: describe(),
    "configure": configure,
    "dag_test": dag_test,
    "schedule_tick": schedule_tick,
    "sensor_tick": sensor_tick,
    "dag_runs": dag_runs,
    "run_report": run_report,
    "dag_versions": dag_versions,
    "parse_time": parse_time,
}


def main() -> None:
    reply({"ready": True, "pid": os.getpid()})
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        try:
            result = OPS[request["op"]](request)
            reply({"id": request.get("id"), "ok": True, "result": result})
        except BaseException as e:
            reply(
                {
                    "id": request.get("id"),
                    "ok": False,
                    "error": f"{type(e).__name__}: {e}",
                    "trace": traceback.format_exc(),
                }
            )
            if isinstance(e, KeyboardInterrupt):
                raise


if __name__ == "__main__":
    main()
