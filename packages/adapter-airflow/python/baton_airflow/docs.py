"""What the Airflow UI shows about a Baton definition: task and DAG docs (``doc_md``) and the
``extra`` of each ``Asset``, all from the manifest (descriptions, owners, tags, metadata, the
code reference of contract §3, timeouts and pools).

Every text is deterministic (sorted keys, no times), so parsing the DAG file twice gives the
same serialized DAG and Airflow records one DAG version.
"""

from __future__ import annotations

import json
from typing import Any

from baton_core import ManifestAsset, ManifestSchedule, ManifestSensor, code_reference

from .manifest import StandaloneCheck
from .tables import declared_table, table_doc


def asset_extra(asset: ManifestAsset) -> dict[str, Any]:
    """The Airflow Asset's ``extra``: what Baton knows about the asset, as the assets page and
    ``GET /api/v2/assets`` show it. Only keys that carry something, so the page stays short."""
    extra: dict[str, Any] = {"baton_id": asset["id"]}
    if asset["description"]:
        extra["description"] = asset["description"]
    if asset["owners"]:
        extra["owners"] = list(asset["owners"])
    if asset["tags"]:
        extra["tags"] = dict(sorted(asset["tags"].items()))
    if asset["metadata"]:
        # Round-trip through JSON: Airflow stores extra as JSON and compares it on every parse.
        extra["metadata"] = json.loads(json.dumps(asset["metadata"], sort_keys=True))
    if asset["codeVersion"]:
        extra["code_version"] = asset["codeVersion"]
    if reference := code_reference(asset):
        extra["source"] = reference
    if asset["output"] == "none":
        extra["stored_output"] = False
    if table := declared_table(asset):
        # Where the rows are, as the events name it (their extra adds the snapshot).
        extra["table"] = table["name"]
        extra["table_format"] = table["format"]
        extra["catalog"] = table["catalog"]
    return extra


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def asset_doc(asset: ManifestAsset) -> str:
    """The task's docs panel (``doc_md``): the description, then a table of what else is set."""
    rows: list[tuple[str, str]] = [("Baton asset", f"`{asset['id']}`")]
    rows.append(("Group", f"`{asset['group']}`"))
    if asset["owners"]:
        rows.append(("Owners", ", ".join(f"`{o}`" for o in asset["owners"])))
    if asset["tags"]:
        rows.append(
            (
                "Tags",
                ", ".join(f"`{k}={v}`" for k, v in sorted(asset["tags"].items())),
            )
        )
    if reference := code_reference(asset):
        rows.append(("Defined in", f"`{reference}`"))
    if asset["partitions"]:
        p = asset["partitions"]
        rows.append(
            (
                "Partitions",
                f"{p['grain']} from {p['start']} ({p['timezone']})"
                if p["type"] == "time"
                else f"static, {len(p['keys'])} keys",
            )
        )
    if asset.get("timeoutSeconds"):
        rows.append(("Timeout", f"{asset.get('timeoutSeconds'):g} s per partition key"))
    if asset.get("pool"):
        rows.append(("Pool", f"`{asset.get('pool')}`"))
    if asset["checks"]:
        rows.append(
            (
                "Checks",
                ", ".join(
                    f"`{c['name']}` ({c['severity']}"
                    + (", standalone: its own task" if c.get("standalone") else "")
                    + ")"
                    for c in asset["checks"]
                ),
            )
        )
    if asset["output"] == "none":
        rows.append(("Output", "none (a side effect; nothing is stored)"))
    elif stored := declared_table(asset):
        rows.append(("Stored in", table_doc(stored)))
    table = "\n".join(
        ["| | |", "|---|---|", *(f"| {k} | {_cell(v)} |" for k, v in rows)]
    )
    description = asset["description"] or ""
    return f"{description}\n\n{table}\n" if description else f"{table}\n"


def check_doc(check: StandaloneCheck, asset: ManifestAsset) -> str:
    """A standalone check task's docs panel: what it checks, with what, and how to run it alone."""
    rows: list[tuple[str, str]] = [
        ("Baton check", f"`{check.name}` of `{check.asset_id}`"),
        (
            "Severity",
            f"{check.severity} (a failure {'fails' if check.severity == 'error' else 'does not fail'} this task)",
        ),
    ]
    if check.deps:
        rows.append(("Inputs", ", ".join(f"`{d}`" for d in check.deps)))
    if reference := code_reference(asset):
        rows.append(("Asset defined in", f"`{reference}`"))
    rows.append(
        (
            "Run it alone",
            f'trigger the DAG with `checks: ["{check.ref}"]` (and the partition), or clear this task instance',
        )
    )
    table = "\n".join(
        ["| | |", "|---|---|", *(f"| {k} | {_cell(v)} |" for k, v in rows)]
    )
    return f"{check.description}\n\n{table}\n" if check.description else f"{table}\n"


def assets_dag_doc(
    asset_count: int,
    groups: list[str],
    partitioned: bool,
    checks: int = 0,
    any_checks: bool = False,
) -> str:
    keys = (
        " `partition_key` (one key) or `partition_range` (`FIRST...LAST`, one run) choose"
        " the partition."
        if partitioned
        else ""
    )
    return (
        f"Every Baton asset ({asset_count}, in groups {', '.join(f'`{g}`' for g in groups)}),"
        " unscheduled: for manual runs, partition ranges and the sensors' runs.\n\n"
        "Trigger it with the form's params: `assets` selects assets (empty: every asset);"
        f"{keys} The `plan` task logs what the run materializes.\n"
        + (
            f"\n{checks} standalone check(s) run in their own tasks after their asset."
            if checks
            else ""
        )
        + (
            '\n`checks` (`["asset:check", ...]`, inline or standalone) runs only those, against'
            " the stored outputs, and materializes nothing.\n"
            if any_checks
            else ""
        )
    )


def schedule_dag_doc(schedule: ManifestSchedule) -> str:
    lines = [
        schedule["description"] or f"Baton schedule `{schedule['name']}`.",
        "",
        (
            f"Runs `{schedule['cron']}` in **{schedule['timezone']}** over"
            f" `{schedule['selection']}` ({len(schedule['assets'])} asset(s))."
        ),
    ]
    if schedule["partitions"]:
        lines.append(
            "Each run materializes the partition its data interval ends (the last complete"
            " window); after the partitions end, runs materialize nothing and say why."
        )
    return "\n".join(lines) + "\n"


def sensor_dag_doc(sensor: ManifestSensor, target_dag_id: str, variable: str) -> str:
    name = sensor["name"]
    return (
        f"{sensor['description'] or f'Baton sensor `{name}`.'}\n\n"
        f"Evaluates the sensor every {sensor['minimumIntervalSeconds']:g} s (task `evaluate`,"
        f" reschedule mode, its log is the sensor's) over `{sensor['selection']}`, and triggers"
        f" one `{target_dag_id}` run per run request (`trigger`). The cursor is the Variable"
        f" `{variable}`. Failed evaluations are retried; after repeated failed runs Airflow"
        " pauses this DAG (`max_consecutive_failed_dag_runs`): fix the sensor, then unpause.\n"
    )
