"""Launching core's step runtime (`node <stepEntry> <command> ...`) and reading the events it prints.

The Node process is the only place user code runs. Its stdout carries one `@@baton:event {json}`
line per event (EVENT_PREFIX, as in core's src/step/protocol.ts); every other stdout or stderr
line is the user's own output. Data never comes back this way: only metadata and logs.

Exit codes of the step (core's README, "Step outcomes"): 0 success (step_end success was
printed), 1 failure a retry may fix, 3 deterministic failure (never retried), 127 Node could not
start (deterministic: set BATON_NODE), a signal or any other code: transient. `StepResult.verdict`
applies these rules, and what success means, the same way for every adapter.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .worker import StepProcess, died_mid_step, start_step_process

if TYPE_CHECKING:
    from .manifest import Manifest
    from .manifest_types import ManifestData, ManifestResource

EVENT_PREFIX = "@@baton:event "
REDACTED = "***"

# Exit codes of `baton-step` (see the module docstring).
EXIT_SUCCESS = 0
EXIT_TRANSIENT = 1
EXIT_DETERMINISTIC = 3
EXIT_NO_NODE = 127

# Core's log levels (step/events.ts LogLevel) as Python logging levels.
_LOG_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


def log_level(level: object) -> int:
    """The Python logging level of a Baton `log` event's level; INFO for anything else."""
    return _LOG_LEVELS.get(str(level), logging.INFO)


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


@dataclass(frozen=True)
class Verdict:
    """What an orchestrator records for a step: success, or a failure with its retry class.

    ``message`` names the first failure in the order the step ran its assets (or what was
    missing); ``missing`` lists the selected assets that have no result at all.
    """

    ok: bool
    retryable: bool
    message: str
    missing: list[str] = field(default_factory=list)
    cancelled: bool = False


UNFINISHED_HINT = (
    "a compute whose promise never settles, or process.exit() in user code?"
)


@dataclass
class StepResult:
    """How the step ended (its exit code, see the module docstring) and what it said."""

    exit_code: int
    events: list[dict[str, Any]] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    # The shim cancelled the step (a forwarded SIGTERM/SIGINT, or ``cancel`` set).
    cancelled: bool = False

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("type") == kind]

    @property
    def tick(self) -> dict[str, Any] | None:
        """The result of a `sensor` or `schedule` command, when it printed one."""
        ticks = self.of_type("tick")
        return ticks[-1]["result"] if ticks else None

    @property
    def step_end(self) -> dict[str, Any] | None:
        ends = self.of_type("step_end")
        return ends[-1] if ends else None

    @property
    def failure(self) -> str:
        """Why the step failed, for an error message: the first asset failure, else stderr, else the exit code."""
        failures = self.of_type("asset_failure")
        if failures:
            return _error_message(failures[0])
        end = self.step_end
        if end and isinstance(end.get("error"), dict):
            return str(end["error"].get("message", ""))
        tail = "\n".join(self.stderr[-20:]).strip()
        return tail or f"exit code {self.exit_code}"

    def unfinished(self, selected: Sequence[str]) -> list[tuple[str, list[str]]]:
        """Selected assets without a result, each with the partition keys it still lacks.

        An asset has a result once it failed, was skipped, or was materialized for every
        partition key of the step (an unpartitioned asset: once). The keys are empty when the
        asset has no materialization at all.
        """
        start = next(iter(self.of_type("step_start")), None)
        keys = [str(k) for k in (start or {}).get("partitionKeys", [])]
        order = [str(a) for a in (start or {}).get("assets", [])]
        assets = [a for a in order if a in selected] + [
            a for a in selected if a not in order
        ]
        resolved = {
            e.get("asset")
            for e in self.events
            if e.get("type") in ("asset_failure", "asset_skipped")
        }
        materialized: dict[str, set[str | None]] = {}
        for e in self.of_type("materialization"):
            materialized.setdefault(str(e.get("asset")), set()).add(
                e.get("partitionKey")
            )
        out: list[tuple[str, list[str]]] = []
        for asset in assets:
            if asset in resolved:
                continue
            seen = materialized.get(asset)
            if seen is None:
                out.append((asset, []))
            elif None not in seen:
                missing = [k for k in keys if k not in seen]
                if missing:
                    out.append((asset, missing))
        return out

    def verdict(self, selected: Sequence[str]) -> Verdict:
        """Success needs exit 0, ``step_end`` success and a result for every selected asset
        (and partition key); anything else is a failure, whose message says what went wrong.
        """
        unfinished = self.unfinished(selected)
        missing = [asset for asset, _ in unfinished]
        end = self.step_end
        if self.cancelled:
            return Verdict(
                ok=False,
                retryable=False,
                message="the step was cancelled: its Node process was stopped (SIGTERM) and commits nothing after that"
                + (f"; no result for {_describe(unfinished)}" if unfinished else ""),
                missing=missing,
                cancelled=True,
            )
        if (
            self.exit_code == EXIT_SUCCESS
            and end is not None
            and end.get("status") == "success"
            and not unfinished
        ):
            return Verdict(ok=True, retryable=False, message="", missing=[])
        retryable = self.exit_code not in (EXIT_DETERMINISTIC, EXIT_NO_NODE)
        failures = self.of_type("asset_failure")
        if self.exit_code == EXIT_NO_NODE:
            message = "\n".join(self.stderr[-5:]).strip() or (
                "cannot start Node (exit 127): set BATON_NODE to the node binary"
            )
        elif failures:
            first = failures[0]
            asset = first.get("asset") or ""
            message = _error_message(first)
            # A BatonError names its asset already (``asset "x": ...``).
            if asset and f'asset "{asset}"' not in message:
                message = f"{asset}: {message}"
        elif (died := died_mid_step(self.stderr)) is not None:
            # Not "a promise that never settles": the warm worker running the step was killed.
            message = died + (
                f"; no result for {_describe(unfinished)}" if unfinished else ""
            )
        elif end is not None and isinstance(end.get("error"), dict):
            message = str(end["error"].get("message", ""))
        elif not self.of_type("step_start"):
            tail = "\n".join(self.stderr[-20:]).strip()
            message = (
                f"the Node step exited with code {self.exit_code} before it started"
                + (f": {tail}" if tail else "")
            )
        elif unfinished:
            message = f"the Node step ended before it finished: no result for {_describe(unfinished)}; {UNFINISHED_HINT}"
        else:
            tail = "\n".join(self.stderr[-20:]).strip()
            message = f"the Node step exited with code {self.exit_code}" + (
                f": {tail}" if tail else ""
            )
        if unfinished and failures:
            message += f" (no result for {_describe(unfinished)})"
        return Verdict(ok=False, retryable=retryable, message=message, missing=missing)


def _describe(unfinished: Iterable[tuple[str, list[str]]]) -> str:
    parts: list[str] = []
    for asset, keys in unfinished:
        parts.extend([f"{asset} [{k}]" for k in keys] if keys else [asset])
    return ", ".join(parts)


def _error_message(failure: dict[str, Any]) -> str:
    error = failure.get("error")
    return str(error.get("message", "")) if isinstance(error, dict) else str(error)


def secret_values(
    manifest: Manifest | ManifestData,
    resource_keys: Iterable[str],
    env: Mapping[str, str],
) -> list[str]:
    """The values, in ``env``, of the secret config fields of these resources, longest first.

    ``manifest`` is a ``Manifest`` or the manifest's JSON (a dict). Pass the result to
    ``run_step(..., secrets=...)``, with any value the adapter itself knows to be secret.
    """
    by_key: dict[str, ManifestResource] = (
        {r["key"]: r for r in manifest["resources"]}
        if isinstance(manifest, dict)
        else dict(manifest.resources)
    )
    values: set[str] = set()
    for key in resource_keys:
        resource = by_key.get(key)
        if resource is None:
            continue
        for config in resource["config"]:
            if config["secret"]:
                value = env.get(config["env"])
                if value:
                    values.add(value)
    return sorted(values, key=lambda v: (-len(v), v))


def redactor(secrets: Iterable[str]) -> Callable[[str], str]:
    """Replaces each secret value with ``***`` (the longest first)."""
    values = sorted({s for s in secrets if s}, key=len, reverse=True)

    def redact(text: str) -> str:
        for value in values:
            text = text.replace(value, REDACTED)
        return text

    return redact


def _redact_deep(value: Any, redact: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [_redact_deep(v, redact) for v in value]
    if isinstance(value, dict):
        return {
            redact(k) if isinstance(k, str) else k: _redact_deep(v, redact)
            for k, v in value.items()
        }
    return value


# The name of run_step's cancel watcher thread (tests wait for it to end).
CANCEL_WATCHER = "baton-cancel-watcher"


def run_step(
    argv: Sequence[str],
    env: Mapping[str, str],
    on_event: OnEvent | None = None,
    on_line: OnLine | None = None,
    cwd: str | Path | None = None,
    secrets: Iterable[str] = (),
    forward_signals: bool = False,
    cancel: threading.Event | None = None,
    cancel_grace: float = 10.0,
    on_start: Callable[[StepProcess], None] | None = None,
) -> StepResult:
    """Run ``argv`` (see step_command) to its end in environment ``env``, streaming its output.

    Events go to ``on_event`` as they arrive, other lines to ``on_line(stream, line)``; all are
    also collected in the result. Every value in ``secrets`` (see ``secret_values``) is replaced
    by ``***`` in every line and event before any callback sees it.

    The step runs in a warm worker when one is free, else as its own process
    (``baton_core.worker.start_step_process``). It dies with this process: a step process stops
    once re-parented, a worker once this connection closes. Cancellation: with ``forward_signals`` (only
    honoured on the main thread) SIGTERM and SIGINT received while the step runs are forwarded
    to Node as SIGTERM, and the previous handlers are restored afterwards; setting ``cancel``
    (from any thread) does the same. Node is killed if it has not exited ``cancel_grace``
    seconds later, and the result is marked ``cancelled`` (its verdict is not retryable).
    ``on_start(proc)``, when given, is called once the step's process has started: a
    ``baton_core.worker.WorkerProcess`` (``.pid``, ``.warm``) or a ``subprocess.Popen``.
    """
    result = StepResult(exit_code=-1)
    secrets = [s for s in secrets if s]
    redact = redactor(secrets)

    def line(stream: str, text: str) -> None:
        text = redact(text)
        if stream == "stderr":
            result.stderr.append(text)
        if on_line:
            on_line(stream, text)

    try:
        # A warm worker when one is free (baton_core.worker), else its own process.
        proc = start_step_process(argv, env, cwd, secrets=secrets)
    except OSError as e:
        # Reported, not raised: a traceback through this frame would show ``env`` (and its secrets).
        line(
            "stderr", f"cannot start {argv[0]}: {e} (set BATON_NODE to the node binary)"
        )
        result.exit_code = EXIT_NO_NODE
        return result

    lock = threading.Lock()
    killer: list[threading.Timer] = []
    # Set (under ``lock``) once the step is over: a late ``cancel`` no longer stops anything.
    finished = False

    def stop() -> None:
        """SIGTERM to Node, then SIGKILL after the grace period; the step counts as cancelled."""
        with lock:
            if result.cancelled or finished:
                return
            result.cancelled = True
            if proc.poll() is None:
                with contextlib.suppress(OSError):
                    proc.send_signal(signal.SIGTERM)
                timer = threading.Timer(cancel_grace, _kill, args=(proc,))
                timer.daemon = True
                timer.start()
                killer.append(timer)

    previous: dict[signal.Signals, Any] = {}
    if forward_signals and threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, lambda _n, _f: stop())

    if cancel is not None:
        flag = cancel

        def watch() -> None:
            # Not joined: it ends by itself within one wait after the step (``finished``), and
            # joining it would add up to that wait to every step.
            while not finished and proc.poll() is None:
                if flag.wait(0.1):
                    stop()
                    return

        threading.Thread(target=watch, name=CANCEL_WATCHER, daemon=True).start()

    def read_stderr() -> None:
        assert proc.stderr is not None
        for raw in proc.stderr:
            line("stderr", raw.rstrip("\n"))

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    try:
        if on_start is not None:
            # Which process runs the step (a worker's pid, warm or started for it), for the
            # orchestrator's log; inside the try, so the process never outlives a failing callback.
            on_start(proc)
        assert proc.stdout is not None
        for raw in proc.stdout:
            text = raw.rstrip("\n")
            event = _event(text)
            if event is None:
                line("stdout", text)
                continue
            if secrets:
                event = _redact_deep(event, redact)
            result.events.append(event)
            if on_event:
                on_event(event)
        result.exit_code = proc.wait()
    finally:
        # A timeout or kill of the orchestrator's task must not leave the Node process behind.
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        # The handlers first: a forwarded signal's stop() must not wait on the lock held below.
        for sig, handler in previous.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)
        with lock:
            finished = True
            for timer in killer:
                timer.cancel()
        reader.join(timeout=5)
    return result


def _kill(proc: StepProcess) -> None:
    if proc.poll() is None:
        with contextlib.suppress(OSError):
            proc.kill()


def _event(line: str) -> dict[str, Any] | None:
    if not line.startswith(EVENT_PREFIX):
        return None
    try:
        event = json.loads(line[len(EVENT_PREFIX) :])
    except ValueError:
        return None
    return event if isinstance(event, dict) else None
