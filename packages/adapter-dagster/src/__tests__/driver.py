"""Test driver: one long-lived Python process that runs requests through real Dagster.

Reads one JSON request per line on stdin, answers one JSON line on stdout (prefixed, since
Dagster and Node also print there). Requests:
  {"op": "load", "project": DIR, "module": NAME, "home": DIR}
  {"op": "graph"}
  {"op": "materialize", "assets": [ID], "partitionKey": K?, "partitionRange": {start, end}?}
  {"op": "schedule", "name": N, "at": ISO}
  {"op": "sensor", "name": N, "cursor": C?}
  {"op": "checks", "checks": [{"asset": ID, "check": NAME}], "partitionKey": K?}
  {"op": "events", "runId": R}
  {"op": "setenv", "env": {NAME: VALUE | null}}
A materialize request with "cancelAfterStart" runs `dagster asset materialize` in a child
process and SIGTERMs it once the asset started ("startedMarker" exists, else its Pipes log).
"""

import importlib
import json
import os
import signal
import subprocess
import sys
import time
import traceback
from datetime import datetime

import dagster as dg
from dagster._core.definitions.metadata.metadata_set import TableMetadataSet
from dagster._utils.schedules import reverse_cron_string_iterator

WAIT_SECONDS = 180

ANSWER = "@@driver "
state: dict = {}


def load(request):
    # What dg's and `dagster -d src` do: the project's src/ is the working directory.
    src = os.path.join(request["project"], "src")
    if src not in sys.path:
        sys.path.insert(0, src)
    module = importlib.import_module(f"{request['module']}.definitions")
    defs = module.defs
    if not isinstance(defs, dg.Definitions):
        defs = defs()  # @dg.definitions: loaded lazily, as Dagster's loader does
    dg.Definitions.validate_loadable(defs)
    os.makedirs(request["home"], exist_ok=True)
    state["defs"] = defs
    state["project"] = request["project"]
    state["module"] = request["module"]
    state["home"] = request["home"]
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
            # Each check's lineage besides its asset (a standalone check's inputs), its op and
            # whether it blocks: Dagster's asset graph, as the UI draws it.
            "checkNodes": {
                c.name: {
                    "deps": sorted(
                        d.asset_key.to_user_string()
                        for d in graph.get_check_spec(c).additional_deps
                    ),
                    "blocking": graph.get_check_spec(c).blocking,
                    "op": _check_ops()[c],
                }
                for c in node.check_keys
            },
            "group": node.group_name,
            "kinds": sorted(node.kinds),
            # What Dagster's asset catalog reads as the asset's table (TableMetadataSet).
            "tableName": TableMetadataSet.extract(node.metadata).table_name,
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


def _execute_in_process(request, selection, tags):
    """Run the selection in this process; the run id, or None when Dagster refused the request."""
    result = state["job"].execute_in_process(
        asset_selection=selection,
        partition_key=request.get("partitionKey"),
        tags=tags,
        instance=state["instance"],
        raise_on_error=False,
    )
    return result.run_id


def _execute_and_cancel(request, tags):
    """`dagster asset materialize` in a child process, SIGTERMed once the asset's step started:
    what a user does to a run in a terminal (the webserver's "Terminate" sends SIGTERM too)."""
    instance = state["instance"]
    before = {r.run_id for r in instance.get_runs()}
    argv = [
        os.path.join(os.path.dirname(sys.executable), "dagster"),
        "asset",
        "materialize",
        "-m",
        f"{state['module']}.definitions",
        "-d",
        os.path.join(state["project"], "src"),
        "--select",
        ",".join(request["assets"]),
    ]
    if request.get("partitionKey"):
        argv += ["--partition", request["partitionKey"]]
    env = {**os.environ, "DAGSTER_HOME": state["home"]}
    cli = subprocess.Popen(argv, cwd=state["project"], env=env)
    marker = request.get("startedMarker")
    target = request["cancelAfterStart"]
    deadline = time.monotonic() + WAIT_SECONDS
    while not _started(instance, before, target, marker):
        if cli.poll() is not None:
            raise RuntimeError(
                f"dagster asset materialize exited ({cli.returncode}) before {target} started"
            )
        if time.monotonic() > deadline:
            cli.kill()
            raise TimeoutError(f"waited {WAIT_SECONDS} s for {target} to start")
        time.sleep(0.1)
    cli.send_signal(signal.SIGTERM)
    try:
        cli.wait(timeout=WAIT_SECONDS)
    except subprocess.TimeoutExpired:
        cli.kill()
        raise
    new = [r for r in instance.get_runs() if r.run_id not in before]
    return new[0].run_id if new else None


def _started(instance, before, asset, marker):
    if marker is not None:
        return os.path.exists(marker)
    for run in instance.get_runs():
        if run.run_id in before:
            continue
        for record in instance.get_records_for_run(run.run_id).records:
            if f"{asset}: started" in (record.event_log_entry.user_message or ""):
                return True
    return False


def _read_run(run_id, request):
    """The run as Dagster recorded it: run status, step events, materializations, checks, and
    every record and compute log of the run as text."""
    instance = state["instance"]
    run = instance.get_run_by_id(run_id)
    entries = [
        r.event_log_entry
        for r in instance.get_records_for_run(run_id, limit=None).records
    ]
    texts = [dg.serialize_value(run)]
    materializations, starts, failures, checks = [], {}, {}, []
    for entry in entries:
        texts.append(dg.serialize_value(entry))
        event = entry.dagster_event
        if event is None:
            continue
        kind = event.event_type_value
        if kind == "ASSET_MATERIALIZATION":
            m = event.event_specific_data.materialization
            materializations.append(
                {
                    "asset": m.asset_key.to_user_string(),
                    "partitionKey": m.partition,
                    "metadata": _user_metadata(m.metadata),
                    **_table(m.metadata),
                }
            )
        elif kind in ("STEP_START", "STEP_RESTARTED"):
            starts[event.step_key] = starts.get(event.step_key, 0) + 1
        elif kind == "STEP_FAILURE":
            failures[event.step_key] = event.step_failure_data
        elif kind == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            checks.append(
                {
                    "asset": evaluation.asset_key.to_user_string(),
                    "check": evaluation.check_name,
                    "passed": evaluation.passed,
                    "partitionKey": getattr(evaluation, "partition", None)
                    or request.get("partitionKey"),
                }
            )
    texts += _compute_logs(run_id)
    materialized = {m["asset"] for m in materializations}
    assets = {}
    for asset_id in request["assets"]:
        step = state_op(dg.AssetKey(asset_id.split("/")))
        attempts = starts.get(step, 0)
        # The step failed naming this asset (a failed error-severity check, a teardown
        # error after the output was written): failed, even if Dagster has its materialization.
        if step in failures and (
            asset_id in _failed_assets(failures[step])
            or "" in _failed_assets(failures[step])
        ):
            assets[asset_id] = _failed(failures[step], asset_id, attempts)
        elif asset_id in materialized:
            assets[asset_id] = {
                "status": "success",
                "attempts": attempts,
                "error": None,
            }
        elif step in failures:
            assets[asset_id] = _failed(failures[step], asset_id, attempts)
        else:
            assets[asset_id] = {"status": "skipped", "attempts": 0, "error": None}
    return {
        "status": "success" if run.status == dg.DagsterRunStatus.SUCCESS else "failure",
        "runStatus": run.status.value,
        "assets": assets,
        "checks": checks,
        "materializations": materializations,
        "recordsText": "\n".join(texts),
        "runId": run_id,
    }


def _user_metadata(metadata):
    """The materialization's user metadata as Dagster stored it: every entry but Dagster's and
    Baton's own (`dagster/…`, `baton/…`, an Iceberg output's `iceberg/…`), each value as the
    JSON it was (a JsonMetadataValue's data, a TextMetadataValue's text, an int's int…:
    MetadataValue.value)."""
    return {
        key: value.value
        for key, value in metadata.items()
        if not key.startswith(("dagster/", "baton/", "iceberg/"))
    }


def _table(metadata):
    """The table and snapshot an Iceberg output's materialization names, as Dagster stored them
    (`dagster/table_name`, `iceberg/snapshot_id`: text); nothing for a file output."""
    name, snapshot = (
        metadata.get("dagster/table_name"),
        metadata.get("iceberg/snapshot_id"),
    )
    if name is None or snapshot is None:
        return {}
    return {"table": {"name": name.value, "snapshotId": snapshot.value}}


def _failed_assets(failure):
    metadata = failure.user_failure_data.metadata if failure.user_failure_data else {}
    return metadata["baton/failed"].value if "baton/failed" in metadata else {}


def _failed(failure, asset_id, attempts):
    metadata = failure.user_failure_data.metadata if failure.user_failure_data else {}
    failed = metadata["baton/failed"].value if "baton/failed" in metadata else {}
    skipped = metadata["baton/skipped"].value if "baton/skipped" in metadata else {}
    if asset_id in skipped:
        return {"status": "skipped", "attempts": 0, "error": None}
    # Asset "" is the step's own failure (a resource's teardown): every asset of the step shares it.
    message = (
        failed.get(asset_id)
        or failed.get("")
        or (
            failure.user_failure_data.description
            if failure.user_failure_data
            else failure.error.message
        )
    )
    return {"status": "failure", "attempts": attempts, "error": message}


def _compute_logs(run_id):
    """The run's captured stdout/stderr as Dagster stored them (files under DAGSTER_HOME)."""
    texts = []
    for root, _dirs, files in os.walk(state["home"]):
        if run_id not in root:
            continue
        for name in sorted(files):
            with open(
                os.path.join(root, name), encoding="utf-8", errors="replace"
            ) as f:
                texts.append(f.read())
    return texts


def materialize(request):
    selection = [dg.AssetKey(i.split("/")) for i in request["assets"]]
    tags = {}
    if request.get("partitionRange"):
        tags = {
            "dagster/asset_partition_range_start": request["partitionRange"]["start"],
            "dagster/asset_partition_range_end": request["partitionRange"]["end"],
        }
    message = "Dagster recorded no run for this request"
    try:
        if request.get("cancelAfterStart"):
            run_id = _execute_and_cancel(request, tags)
        else:
            run_id = _execute_in_process(request, selection, tags)
    except Exception as error:  # noqa: BLE001 — invalid requests fail before any step starts
        run_id, message = None, str(error)
    if run_id is None:
        return {
            "status": "failure",
            "assets": {
                i: {"status": "failure", "attempts": 0, "error": message}
                for i in request["assets"]
            },
            "checks": [],
            "materializations": [],
            "recordsText": message,
        }
    return _read_run(run_id, request)


def _check_ops():
    """Each check's op: its asset's multi-asset (an inline check) or its own (a standalone one)."""
    defs = state["defs"]
    return {
        key: d.node_def.name
        for d in [*(defs.assets or []), *(defs.asset_checks or [])]
        for key in d.check_keys
    }


def checks(request):
    """Only these checks, against the stored outputs: a run of a job selecting just their
    AssetCheckKeys (dg.AssetSelection.checks), as a user would define it (the UI's "Execute
    check" launches the same selection)."""
    keys = [
        dg.AssetCheckKey(dg.AssetKey(c["asset"].split("/")), c["check"])
        for c in request["checks"]
    ]
    name = "baton_checks_" + str(len(state.setdefault("checkJobs", {})))
    job = dg.define_asset_job(name, selection=dg.AssetSelection.checks(*keys))
    defs = dg.Definitions.merge(state["defs"], dg.Definitions(jobs=[job]))
    state["checkJobs"][name] = keys
    # The partition as a tag, as the UI's "Execute check" on a partition sends it: a job of
    # checks alone has no asset to take a partitions definition from (asset_job.py,
    # _infer_and_validate_common_partitions_def), so execute_in_process(partition_key=) refuses it.
    key = request.get("partitionKey")
    result = defs.resolve_job_def(name).execute_in_process(
        tags={"dagster/partition": key} if key else None,
        instance=state["instance"],
        raise_on_error=False,
    )
    targets = sorted({c["asset"] for c in request["checks"]})
    run = _read_run(result.run_id, {**request, "assets": []})
    # Per target: its check steps' status in Dagster's records.
    ops = _check_ops()
    records = state["instance"].get_records_for_run(result.run_id, limit=None).records
    failed = {
        r.event_log_entry.dagster_event.step_key: r.event_log_entry.dagster_event
        for r in records
        if r.event_log_entry.dagster_event is not None
        and r.event_log_entry.dagster_event.event_type_value == "STEP_FAILURE"
    }
    assets = {}
    for target in targets:
        steps = {ops[k] for k in keys if k.asset_key.to_user_string() == target}
        failure = next((failed[s] for s in sorted(steps) if s in failed), None)
        assets[target] = (
            _failed(failure.step_failure_data, target, 1)
            if failure is not None
            else {"status": "success", "attempts": 1, "error": None}
        )
    return {**run, "assets": assets}


def _ids(keys):
    return sorted(k.to_user_string() for k in keys)


def _tick_text(data):
    """What Dagster keeps of a tick: its evaluation result (run requests, skip reason, cursor)."""
    try:
        return dg.serialize_value(data)
    except Exception:  # noqa: BLE001 — not every tick result is serializable; keep its repr
        return repr(data)


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
        "recordsText": _tick_text(data),
    }


def sensor(request):
    defs, instance = state["defs"], state["instance"]
    sensor_def = defs.resolve_sensor_def(request["name"])
    repository = defs.get_repository_def()
    # As the daemon does: resources (IO managers among them) are opened for the tick and closed,
    # and the instance (by its ref) keeps what the sensor logs under the tick's log key.
    with dg.build_sensor_context(
        instance=instance,
        instance_ref=instance.get_ref(),
        cursor=request.get("cursor"),
        repository_def=repository,
        repository_name=repository.name,
        resources=defs.resources,
        sensor_name=request["name"],
    ) as context:
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
        "recordsText": "\n".join([_tick_text(data), *_tick_logs(data.log_key)]),
    }


def _tick_logs(log_key):
    """The tick's log as the UI's tick details show it: each record the sensor's `context.log`
    wrote under the tick's log key, "LEVEL message". Test contexts name the key after the second
    of the tick, so a later tick in the same second appends to it: read from where the last
    read of that key stopped."""
    if not log_key:
        return []
    cursors = state.setdefault("tickLogCursors", {})
    data = state["instance"].compute_log_manager.get_log_data(
        log_key, cursor=cursors.get(tuple(log_key))
    )
    cursors[tuple(log_key)] = data.cursor
    lines = []
    for line in (data.stderr or b"").decode("utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line, strict=False)
        except ValueError:
            continue
        message = record.get("dagster_meta", {}).get("orig_message", record.get("msg"))
        lines.append(f"{record.get('levelname', '')} {message}")
    return lines


def events(request):
    """The run's event log, one entry per record: type, step, asset, time, message."""
    out = []
    for record in (
        state["instance"].get_records_for_run(request["runId"], limit=None).records
    ):
        entry = record.event_log_entry
        event = entry.dagster_event
        out.append(
            {
                "type": event.event_type_value if event else None,
                "step": entry.step_key,
                "asset": event.asset_key.to_user_string()
                if event and event.asset_key
                else None,
                "timestamp": entry.timestamp,
                "message": entry.user_message,
            }
        )
    return {"events": out}


def setenv(request):
    """Set (a string) or unset (null) variables of this process, which runs the steps."""
    for name, value in request["env"].items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    return {"ok": True}


OPS = {
    "events": events,
    "setenv": setenv,
    "load": load,
    "graph": graph,
    "materialize": materialize,
    "checks": checks,
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
