"""Run each DAG of a DAGs folder once with ``dag.test()`` and print a JSON summary.

What a user does to try DAGs locally, and what the Airflow adapter's integration tests do (same
virtual environment, same ``dag.test()``). Needs ``airflow db migrate`` done and
AIRFLOW__CORE__DAGS_FOLDER set. The summary is the last stdout line, prefixed with ``@@summary ``;
Airflow's own logs come before it.
"""

from __future__ import annotations

import json
import os
import sys

from airflow import settings
from airflow.dag_processing.bundles.manager import DagBundlesManager
from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db

BUNDLE = "dags-folder"


def main() -> int:
    folder = os.environ["AIRFLOW__CORE__DAGS_FOLDER"]
    manager = DagBundlesManager()
    with settings.Session() as session:
        manager.sync_bundles_to_db(session=session)
        session.commit()
    bag = BundleDagBag(dag_folder=folder, bundle_path=folder, bundle_name=BUNDLE)
    summary: dict = {
        "importErrors": {str(k): str(v) for k, v in bag.import_errors.items()},
        "dags": {},
    }
    if not bag.import_errors:
        sync_bag_to_db(bag, BUNDLE, None)
        for dag_id in sorted(bag.dags):
            run = bag.dags[dag_id].test()
            with settings.Session() as session:
                tis = run.get_task_instances(session=session)
                tasks = {ti.task_id: str(ti.state) if ti.state else None for ti in tis}
            summary["dags"][dag_id] = {"state": str(run.state), "tasks": tasks}
    sys.stdout.flush()
    print("@@summary " + json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
