"""baton_core.manifest and baton_core.build: reading a build's manifest and settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from factories import asset, manifest

from baton_core.build import BuildError, read_build
from baton_core.manifest import (
    ACCEPTED_MANIFEST_VERSIONS,
    Manifest,
    ManifestError,
    ManifestVersionError,
    read_manifest,
)
from baton_core.manifest_types import ManifestPool


def write(folder: Path, name: str, data: object) -> Path:
    path = folder / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.fixture
def build_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "out" / "baton"
    folder.mkdir(parents=True)
    write(folder, "manifest.json", manifest(asset("orders")))
    write(
        folder,
        "build.json",
        {"target": "dagster", "storage": None, "options": {"codeLocation": "x"}},
    )
    return folder


def test_the_one_accepted_version_is_2() -> None:
    assert ACCEPTED_MANIFEST_VERSIONS == (2,)


def test_read_manifest_accepts_version_2_by_default(build_dir: Path) -> None:
    assert read_manifest(build_dir / "manifest.json")["assets"][0]["id"] == "orders"


def test_another_version_names_the_file_both_versions_and_the_fix(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, "manifest.json", {**manifest(), "manifestVersion": 1})
    with pytest.raises(ManifestVersionError) as caught:
        read_manifest(
            path, reader="baton_airflow", hint="rebuild with `baton airflow build`"
        )
    assert caught.value.version == 1 and caught.value.path == path
    assert str(caught.value) == (
        f"manifest version 1 in {path} is not one baton_airflow can read (it reads 2); "
        "rebuild with `baton airflow build`"
    )


def test_an_unreadable_manifest_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text("{", encoding="utf-8")
    with pytest.raises(
        ManifestError, match=r"cannot read the Baton manifest .*manifest\.json"
    ):
        read_manifest(tmp_path / "manifest.json")
    with pytest.raises(ManifestError, match="No such file"):
        read_manifest(tmp_path / "missing.json")


def test_manifest_lookups_and_paths(build_dir: Path) -> None:
    m = Manifest.read(build_dir / "manifest.json")
    assert m.asset("orders")["group"] == "default"
    assert (
        m.step_entry == build_dir / "runtime/node_modules/@baton/core/dist/step/bin.js"
    )
    assert m.module == build_dir / "runtime/definitions-0123456789abcdef.mjs"
    with pytest.raises(
        LookupError, match='there is no asset "order" \\(known: orders\\)'
    ):
        m.asset("order")
    with pytest.raises(
        LookupError, match='there is no schedule named "nightly" \\(known: none\\)'
    ):
        m.schedule("nightly")
    assert m.build.target == "dagster"


def test_pools_are_optional_and_keyed_by_name(tmp_path: Path) -> None:
    # A manifest written before issue 12 has no pools (nor timeoutSeconds, pool, source).
    old = Manifest(tmp_path / "manifest.json", manifest(asset("orders")))
    assert old.pools == {}
    assert old.asset("orders").get("timeoutSeconds") is None
    timed = asset(
        "orders",
        pool="warehouse",
        timeoutSeconds=30,
        source={"file": "src/defs.ts", "line": 4},
    )
    pools: list[ManifestPool] = [{"name": "warehouse", "limit": 2, "description": None}]
    m = Manifest(tmp_path / "manifest.json", manifest(timed, pools=pools))
    assert m.pools["warehouse"]["limit"] == 2
    assert m.asset("orders").get("pool") == "warehouse"


def test_read_build(build_dir: Path) -> None:
    info = read_build(build_dir / "manifest.json")
    assert (info.target, info.storage, dict(info.options)) == (
        "dagster",
        None,
        {"codeLocation": "x"},
    )
    with pytest.raises(TypeError):
        info.options["codeLocation"] = "y"  # type: ignore[index]


def test_a_missing_build_json_names_it_and_says_to_rebuild(tmp_path: Path) -> None:
    with pytest.raises(BuildError) as caught:
        read_build(tmp_path / "manifest.json")
    assert str(caught.value).startswith(f"{tmp_path / 'build.json'}: missing")
    assert "rebuild the output folder with `baton <target> build --out DIR`" in str(
        caught.value
    )


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ([], "is not a JSON object"),
        ({"storage": None, "options": {}}, 'has no "target"'),
        (
            {"target": "", "storage": None, "options": {}},
            '"target" is "", not a target name',
        ),
        (
            {"target": "airflow", "storage": 3, "options": {}},
            '"storage" is 3, not a path, a URL or null',
        ),
        (
            {"target": "airflow", "storage": None, "options": []},
            '"options" is [], not an object',
        ),
    ],
)
def test_a_build_json_core_would_not_write(
    tmp_path: Path, data: object, problem: str
) -> None:
    write(tmp_path, "build.json", data)
    with pytest.raises(
        BuildError, match=problem.replace("[", "\\[").replace("]", "\\]")
    ):
        read_build(tmp_path / "manifest.json")
