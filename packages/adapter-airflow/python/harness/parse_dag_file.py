"""Parse one DAG file as Airflow 3.3's DAG processor does, and write what it got as JSON.

``python parse_dag_file.py DAG_FILE BUNDLE_PATH OUT.json [REPEAT]``. Each parse is the DAG
processor's ``_parse_file`` (airflow/dag_processing/processor.py): a ``BundleDagBag`` of the file
(its ``dagbag_import_timeout`` applies: 30 s unless configured) and then
``DagSerialization.to_dict`` of every DAG, which is what the processor stores. OUT gets the
import errors, each DAG's tasks (id -> upstream ids) as serialized, and the seconds (wall and
CPU) each phase took (for the benchmark; the test asserts none). Needs no Airflow database.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from airflow.dag_processing.dagbag import BundleDagBag
from airflow.serialization.serialized_objects import DagSerialization


def parse(path: str, bundle_path: str) -> dict[str, Any]:
    # A fresh import each time, as in a new DAG-processor child (the manifest is read again).
    for name in [m for m in sys.modules if m.startswith("baton_airflow")]:
        del sys.modules[name]
    started, started_cpu = time.perf_counter(), time.process_time()
    bag = BundleDagBag(
        dag_folder=path,
        bundle_path=bundle_path,
        bundle_name="dags-folder",
        load_op_links=False,
        safe_mode=False,
    )
    imported, imported_cpu = time.perf_counter(), time.process_time()
    dags: dict[str, dict[str, list[str]]] = {}
    for dag_id, dag in sorted(bag.dags.items()):
        data = DagSerialization.to_dict(dag)
        upstream: dict[str, list[str]] = {}
        for task in data["dag"]["tasks"]:
            fields = task["__var"]
            upstream.setdefault(fields["task_id"], [])
            for down in fields.get("downstream_task_ids") or []:
                upstream.setdefault(down, []).append(fields["task_id"])
        dags[dag_id] = {k: sorted(v) for k, v in sorted(upstream.items())}
    return {
        "importErrors": bag.import_errors,
        "dags": dags,
        "importSeconds": imported - started,
        "serializeSeconds": time.perf_counter() - imported,
        # CPU time: comparable between runs on a machine busy with other work.
        "importCpuSeconds": imported_cpu - started_cpu,
        "serializeCpuSeconds": time.process_time() - imported_cpu,
    }


def main() -> None:
    path, bundle_path, out = sys.argv[1:4]
    repeat = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    runs = [parse(path, bundle_path) for _ in range(repeat)]
    last = runs[-1]
    result = {
        "importErrors": last["importErrors"],
        "dags": last["dags"],
        "importSeconds": [r["importSeconds"] for r in runs],
        "serializeSeconds": [r["serializeSeconds"] for r in runs],
        "importCpuSeconds": [r["importCpuSeconds"] for r in runs],
        "serializeCpuSeconds": [r["serializeCpuSeconds"] for r in runs],
    }
    with open(out, "w", encoding="utf-8") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
