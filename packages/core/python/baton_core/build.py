"""The settings of a build (``baton/build.json``, next to the manifest), as core wrote them.

``storage`` is the default the user baked in with ``--storage`` (an absolute path or a URL), or
None: then the workers' ``BATON_STORAGE`` decides, and it always wins when set.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

BUILD_FILE = "build.json"
_REBUILD = "rebuild the output folder with `baton <target> build --out DIR`"


class BuildError(ValueError):
    """``build.json`` is missing or not what core writes; the message names the file."""


@dataclass(frozen=True)
class BuildInfo:
    """Which target the folder was built for, its storage default and its resolved options."""

    target: str
    storage: str | None
    options: Mapping[str, object]


def read_build(manifest_path: str | Path) -> BuildInfo:
    """The ``build.json`` in the manifest's folder; raises BuildError naming the file."""
    path = Path(manifest_path).parent / BUILD_FILE

    def problem(text: str) -> BuildError:
        return BuildError(f"{path}: {text}; {_REBUILD}")

    try:
        data: object = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise problem(
            "missing: the manifest is not inside a Baton build (OUT/baton/)"
        ) from None
    except (OSError, ValueError) as e:
        raise problem(f"cannot be read ({e})") from None
    if not isinstance(data, dict):
        raise problem("is not a JSON object")
    for key in ("target", "storage", "options"):
        if key not in data:
            raise problem(f'has no "{key}"')
    target, storage, options = data["target"], data["storage"], data["options"]
    if not isinstance(target, str) or not target:
        raise problem(f'"target" is {json.dumps(target)}, not a target name')
    if storage is not None and (not isinstance(storage, str) or not storage):
        raise problem(f'"storage" is {json.dumps(storage)}, not a path, a URL or null')
    if not isinstance(options, dict):
        raise problem(f'"options" is {json.dumps(options)}, not an object')
    return BuildInfo(target, storage, MappingProxyType(options))
