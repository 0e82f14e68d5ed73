"""manifest_types.py is generated from core's JSON Schema by scripts/gen-manifest-types.mjs."""

from __future__ import annotations

import copy
import importlib.util
import json
import shutil
import subprocess
import sys
import typing
from pathlib import Path
from typing import Any

import pytest

from baton_core import manifest_types

REPO = Path(__file__).resolve().parents[4]
SCHEMA = REPO / "packages/core/schema/manifest.schema.json"
GENERATOR = REPO / "scripts/gen-manifest-types.mjs"


def generate(*args: str) -> subprocess.CompletedProcess[str]:
    node = shutil.which("node")
    assert node is not None, "node is needed to run scripts/gen-manifest-types.mjs"
    return subprocess.run(
        [node, str(GENERATOR), *args], capture_output=True, text=True, check=False
    )


def schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SCHEMA.read_text(encoding="utf-8"))
    return copy.deepcopy(data)


def generated(tmp_path: Path, data: dict[str, Any]) -> tuple[Path, str]:
    schema_file = tmp_path / "schema.json"
    schema_file.write_text(json.dumps(data), encoding="utf-8")
    out = tmp_path / "types.py"
    done = generate("--schema", str(schema_file), "--out", str(out))
    assert done.returncode == 0, done.stderr
    return out, out.read_text(encoding="utf-8")


def load(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location("generated_types", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_file_matches_the_schema() -> None:
    done = generate("--check")
    assert done.returncode == 0, done.stderr


def test_required_and_optional_properties() -> None:
    runtime = manifest_types.ManifestRuntime
    assert runtime.__required_keys__ >= {"module", "moduleHash", "stepEntry"}
    time = manifest_types.TimePartitionsDefinition
    assert {"end", "weekStartsOn"} <= time.__optional_keys__
    # Issue 12's fields are optional: manifests built before them still type-check.
    asset = manifest_types.ManifestAsset
    assert {"timeoutSeconds", "pool", "source"} <= asset.__optional_keys__
    assert "pools" in manifest_types.ManifestData.__optional_keys__
    assert manifest_types.ManifestPool.__required_keys__ == {
        "name",
        "limit",
        "description",
    }
    hints = typing.get_type_hints(manifest_types.ManifestData)
    assert hints["manifestVersion"] == typing.Literal[2]


def test_a_schema_change_makes_the_file_stale_and_regenerates_it(
    tmp_path: Path,
) -> None:
    data = schema()
    sensor = data["$defs"]["sensor"]["properties"]
    sensor["jitterSeconds"] = {"type": "number"}
    # A long enum is wrapped the way ruff format wraps it.
    sensor["kind"] = {"enum": [f"kind_number_{i}" for i in range(12)]}
    schema_file = tmp_path / "schema.json"
    schema_file.write_text(json.dumps(data), encoding="utf-8")
    stale = generate("--check", "--schema", str(schema_file))
    assert stale.returncode == 1
    assert "manifest_types.py is stale" in stale.stderr
    assert "fix: node scripts/gen-manifest-types.mjs" in stale.stderr

    out, text = generated(tmp_path, data)
    assert "    jitterSeconds: NotRequired[float]\n" in text
    assert max(len(line) for line in text.splitlines()) <= 88
    module = load(out)
    assert "kind" in module.ManifestSensor.__optional_keys__
    ruff = Path(sys.executable).parent / "ruff"
    for args in (["check"], ["format", "--check"]):
        done = subprocess.run(
            [str(ruff), *args, "--config", str(REPO / "ruff.toml"), str(out)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr


def test_a_keyword_field_uses_the_functional_syntax(tmp_path: Path) -> None:
    data = schema()
    data["properties"]["generator"]["properties"]["from"] = {"type": "string"}
    out, text = generated(tmp_path, data)
    assert 'ManifestGenerator = TypedDict(\n    "ManifestGenerator",' in text
    assert "from" in load(out).ManifestGenerator.__optional_keys__


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            lambda d: d["$defs"]["sensor"].update(patternProperties={}),
            'at #/$defs/sensor: unsupported keyword "patternProperties"',
        ),
        (
            lambda d: d["$defs"]["sensor"]["properties"].update(
                window={
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {},
                }
            ),
            "at #/$defs/sensor/properties/window: no Python name: add its pointer to NAMES",
        ),
        (
            lambda d: d["$defs"]["sensor"].update(additionalProperties=True),
            "at #/$defs/sensor: an object with properties must set additionalProperties: false",
        ),
    ],
)
def test_a_schema_it_cannot_translate_names_the_pointer(
    tmp_path: Path, change: Any, problem: str
) -> None:
    data = schema()
    change(data)
    schema_file = tmp_path / "schema.json"
    schema_file.write_text(json.dumps(data), encoding="utf-8")
    done = generate("--schema", str(schema_file), "--out", str(tmp_path / "types.py"))
    assert done.returncode == 2
    assert problem in done.stderr
    assert not (tmp_path / "types.py").exists()
