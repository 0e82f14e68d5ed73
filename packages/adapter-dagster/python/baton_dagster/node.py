"""Launching the Baton step runtime (Node). Nothing here runs while definitions load."""

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from .manifest import Manifest

EVENT_PREFIX = "@@baton:event "


class BatonNode:
    """Where the Node step entry is, and how to start it (`BATON_NODE`, else `node` on PATH)."""

    def __init__(self, manifest: Manifest, manifest_path: Path):
        self.manifest_path = manifest_path.resolve()
        self.step_entry = (self.manifest_path.parent / manifest["runtime"]["stepEntry"]).resolve()

    def command(self, *args: str) -> list[str]:
        node = os.environ.get("BATON_NODE", "node")
        return [node, str(self.step_entry), *args, "--manifest", str(self.manifest_path)]

    def tick(self, *args: str, env: dict[str, str]) -> dict[str, Any]:
        """Evaluate a sensor or schedule in Node and return its tick result."""
        process = subprocess.run(
            self.command(*args),
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            check=False,
        )
        events = [
            json.loads(line[len(EVENT_PREFIX) :])
            for line in process.stdout.splitlines()
            if line.startswith(EVENT_PREFIX)
        ]
        for event in events:
            if event["type"] == "tick":
                return event["result"]
        failures = [e["error"] for e in events if e["type"] == "asset_failure"]
        detail = failures[0]["message"] if failures else process.stderr.strip()
        raise RuntimeError(f"`{' '.join(args)}` failed in Node (exit {process.returncode}): {detail}")
