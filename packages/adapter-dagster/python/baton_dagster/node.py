"""Launching the Baton step runtime (Node). Nothing here runs while definitions load."""

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import baton_core

from .manifest import Manifest
from .step import Redactor


class BatonNode:
    """Where the Node step entry is, and how to start it (`BATON_NODE`, else `node` on PATH)."""

    def __init__(self, manifest: Manifest, manifest_path: Path):
        self._manifest = baton_core.Manifest(manifest_path.resolve(), manifest)

    def command(self, command: str, *args: str) -> list[str]:
        return self._manifest.step_command(command, args)

    def tick(
        self,
        command: str,
        *args: str,
        env: dict[str, str],
        secrets: Sequence[str] = (),
        on_event: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Evaluate a sensor or schedule in Node and return its tick result, every text in it
        (skip reason, failure) with the known secret values redacted. `on_event` receives each
        event (the tick's `log` lines among them) as Node prints it, already redacted."""
        # run_step redacts every event and line, so the tick and the failure already are.
        result = baton_core.run_step(
            self.command(command, *args),
            {**os.environ, **env},
            on_event=on_event,
            secrets=secrets,
        )
        if result.tick is not None:
            return dict(result.tick)
        invocation = Redactor(secrets)(" ".join([command, *args]))
        raise RuntimeError(
            f"`{invocation}` failed in Node (exit {result.exit_code}): {result.failure}"
        )
