"""A plain Prefect flow downstream of Baton's: it runs the Baton deployment through the work
pool, then a native task reads the rows Baton wrote with ``baton_core.read_output``.

    python downstream.py <flow/deployment> <storage URL> <storage Secret block>

The store's credentials come from the same Prefect Secret block the Baton steps use, loaded
inside the task (only its name is a parameter). Prints the flow's result as one
``@@result <json>`` line.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from prefect import flow, task
from prefect.deployments import run_deployment

from baton_core import read_output
from baton_prefect import storage_env


@task
def customer_spend(storage: str, secret: str) -> dict[str, Any]:
    """What a Python user computes from the Baton asset customer_metrics."""
    frame = read_output("customer_metrics", storage=storage, env=storage_env(secret))
    return {
        "rows": frame.height,
        "columns": frame.columns,
        "total_spend": round(float(frame["total_spend"].sum()), 2),
        "order_count": int(frame["order_count"].sum()),
    }


@flow(name="native-downstream")
def report(deployment: str, storage: str, secret: str) -> dict[str, Any]:
    baton = run_deployment(
        deployment,
        parameters={"assets": ["orders", "customers", "customer_metrics"]},
        timeout=900,
    )
    if baton.state is None or not baton.state.is_completed():
        raise RuntimeError(f"the Baton flow run {baton.id} ended {baton.state}")
    return {"batonFlowRunId": str(baton.id), **customer_spend(storage, secret)}


if __name__ == "__main__":
    print("@@result " + json.dumps(report(*sys.argv[1:4])), flush=True)
