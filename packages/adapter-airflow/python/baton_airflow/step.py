"""Launch core's step runtime (`node <stepEntry> ...`) and read its event lines.

The step prints one JSON event per line after EVENT_PREFIX on stdout; any other stdout or stderr
line is the user's own output. Data never comes back this way: only metadata and logs.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

EVENT_PREFIX = "@@baton:event "

# Airflow's own configuration and secrets stay with Airflow; user code gets the rest of the
# worker environment (PATH, HOME, proxies...) plus the resource variables resolved for it.
_PRIVATE_PREFIXES = ("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_", "_AIRFLOW")


def node_binary() -> str:
    return os.environ.get("BATON_NODE") or "node"


def child_environment(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_PRIVATE_PREFIXES)}
    env.update(extra)
    return env


@dataclass
class StepOutcome:
    exit_code: int
    events: list[dict] = field(default_factory=list)

    def of_type(self, kind: str) -> list[dict]:
        return [e for e in self.events if e.get("type") == kind]


def run_node(
    args: Sequence[str],
    env: dict[str, str],
    on_event: Callable[[dict], None],
    on_output: Callable[[str, str], None],
    cwd: str | None = None,
) -> StepOutcome:
    """Run ``node <args>``; events go to ``on_event`` as they arrive, other lines to ``on_output(stream, line)``."""
    outcome = StepOutcome(exit_code=-1)
    try:
        proc = subprocess.Popen(
            [node_binary(), *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=cwd,
            text=True,
            encoding="utf-8",
            errors="replace",
            bufsize=1,
        )
    except OSError as e:
        # Reported, not raised: a traceback through this frame would show ``env``.
        on_output("stderr", f"cannot start {node_binary()}: {e} (set BATON_NODE to the node binary)")
        outcome.exit_code = 127
        return outcome

    def pump_stderr() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            on_output("stderr", line.rstrip("\n"))

    reader = threading.Thread(target=pump_stderr, daemon=True)
    reader.start()
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.rstrip("\n")
            if line.startswith(EVENT_PREFIX):
                try:
                    event = json.loads(line[len(EVENT_PREFIX) :])
                except ValueError:
                    on_output("stdout", line)
                    continue
                outcome.events.append(event)
                on_event(event)
            else:
                on_output("stdout", line)
        outcome.exit_code = proc.wait()
    finally:
        # An Airflow timeout or kill must not leave the Node process behind.
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join(timeout=5)
    return outcome
