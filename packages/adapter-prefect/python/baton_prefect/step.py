"""Launching core's step runtime (`node <stepEntry> ...`) and reading the events it prints.

The Node process is the only place user code runs. Its stdout carries `@@baton:event {json}`
lines; every other line (stdout or stderr) is the user's own output and goes to the log.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .manifest import Manifest

EVENT_PREFIX = "@@baton:event "

Line = Callable[[str, str], None]  # (stream, text)
Event = Callable[[dict[str, Any]], None]


@dataclass
class StepResult:
    exit_code: int
    events: list[dict[str, Any]] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("type") == kind]


def node_binary() -> str:
    return os.environ.get("BATON_NODE") or "node"


def run_step(
    manifest: Manifest,
    command: str,
    args: list[str],
    env: Mapping[str, str],
    on_line: Line | None = None,
    on_event: Event | None = None,
) -> StepResult:
    """Run `node <stepEntry> <command> --manifest M <args>` to the end, streaming its output."""
    argv = [node_binary(), str(manifest.step_entry), command, "--manifest", str(manifest.path), *args]
    result = StepResult(exit_code=-1)
    proc = subprocess.Popen(
        argv,
        cwd=manifest.folder,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        errors="replace",
        bufsize=1,
    )

    def read_stderr() -> None:
        assert proc.stderr is not None
        for raw in proc.stderr:
            line = raw.rstrip("\n")
            result.stderr.append(line)
            if on_line:
                on_line("stderr", line)

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    assert proc.stdout is not None
    for raw in proc.stdout:
        line = raw.rstrip("\n")
        if line.startswith(EVENT_PREFIX):
            event = json.loads(line[len(EVENT_PREFIX) :])
            result.events.append(event)
            if on_event:
                on_event(event)
        elif on_line:
            on_line("stdout", line)
    result.exit_code = proc.wait()
    reader.join()
    return result
