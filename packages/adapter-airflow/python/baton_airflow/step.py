"""The environment of the Node step that runs an asset (core's baton_core.step launches it)."""

from __future__ import annotations

import os

# Airflow's own configuration and secrets stay with Airflow; user code gets the rest of the
# worker environment (PATH, HOME, proxies...) plus the resource variables resolved for it.
_PRIVATE_PREFIXES = ("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_", "_AIRFLOW")


def child_environment(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_PRIVATE_PREFIXES)}
    env.update(extra)
    return env
