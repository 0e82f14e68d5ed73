"""Launching core's step runtime (`node <stepEntry> <command> ...`) and reading the events it prints.

The Node process is the only place user code runs. Its stdout carries one `@@baton:event {json}`
line per event (EVENT_PREFIX, as in core's src/step/protocol.ts); every other stdout or stderr
line is the user's own output. Data never comes back this way: only metadata and logs.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EVENT_PREFIX = "@@baton:event "

OnEvent = Callable[[dict[str, Any]], None]
OnLine = Callable[[str, str], None]  # (stream: "stdout" | "stderr", line)


def node_binary() -> str:
    """The Node binary: env BATON_NODE, else `node` on PATH."""
    return os.environ.get("BATON_NODE") or "node"


def step_command(
    step_entry: str | Path,
    manifest_path: str | Path,
    command: str,
    args: Sequence[str] = (),
) -> list[str]:
    """``node <stepEntry> <command> --manifest M <args>``, with command one of run, sensor, schedule."""
    return [
        node_binary(),
        str(step_entry),
        command,
        "--manifest",
        str(manifest_path),
        *args,
    ]


@dataclass
class StepResult:
    """How the step ended (0 success, 1 an asset failed, 2 bad invocation, 127 no Node) and what it said."""

    exit_code: int
    events: list[dict[str, Any]] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("type") == kind]

    @property
    def tick(self) -> dict[str, Any] | None:
        """The result of a `sensor` or `schedule` command, when it printed one."""
        ticks = self.of_type("tick")
        return ticks[-1]["result"] if ticks else None

    @property
    def failure(self) -> str:
        """Why the step failed, for an error message: the last asset failure, else stderr, else the exit code."""
        failures = self.of_type("asset_failure")
        if failures:
            return failures[-1]["error"]["message"]
        tail = "\n".join(self.stderr[-20:]).strip()
        return tail or f"exit code {self.exit_code}"


def run_step(
    argv: Sequence[str],
    env: Mapping[str, str],
    on_event: OnEvent | None = None,
    on_line: OnLine | None = None,
    cwd: str | Path | None = None,
) -> StepResult:
    """Run ``argv`` (see step_command) to its end in environment ``env``, streaming its output.

    Events go to ``on_event`` as they arrive, other lines to ``on_line(stream, line)``; all are
    also collected in the result.
    """
    result = StepResult(exit_code=-1)

    def line(stream: str, text: str) -> None:
        if stream == "stderr":
            result.stderr.append(text)
        if on_line:
            on_line(stream, text)

    try:
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
            bufsize=1,
        )
    except OSError as e:
        # Reported, not raised: a traceback through this frame would show ``env`` (and its secrets).
        line(
            "stderr", f"cannot start {argv[0]}: {e} (set BATON_NODE to the node binary)"
        )
        result.exit_code = 127
        return result

    def read_stderr() -> None:
        assert proc.stderr is not None
        for raw in proc.stderr:
            line("stderr", raw.rstrip("\n"))

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    try:
        assert proc.stdout is not None
        for raw in proc.stdout:
            text = raw.rstrip("\n")
            event = _event(text)
            if event is None:
                line("stdout", text)
                continue
            result.events.append(event)
            if on_event:
                on_event(event)
        result.exit_code = proc.wait()
    finally:
        # A timeout or kill of the orchestrator's task must not leave the Node process behind.
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join(timeout=5)
    return result


def _event(line: str) -> dict[str, Any] | None:
    if not line.startswith(EVENT_PREFIX):
        return None
    try:
        event = json.loads(line[len(EVENT_PREFIX) :])
    except ValueError:
        return None
    return event if isinstance(event, dict) else None
