"""baton_core.storage names folders exactly as core's TypeScript: the shared vector file.

packages/core/test-vectors/segments.json is checked against core's encodeSegment by
packages/core/src/storage-vectors.test.ts; this checks the Python side against the same file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from baton_core.storage import _folder, encode_segment

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parents[2] / "test-vectors" / "segments.json").read_text("utf-8")
)


def test_the_file_has_the_cases_that_matter() -> None:
    inputs = {v["input"] for v in VECTORS["vectors"]}
    assert {
        "__unpartitioned__",
        ".",
        "..",
        ".hidden",
        "a/b",
        "日本語",
        "!'()*",
    } <= inputs
    assert len(VECTORS["folders"]) >= 5


@pytest.mark.parametrize(
    ("given", "encoded"), [(v["input"], v["encoded"]) for v in VECTORS["vectors"]]
)
def test_encode_segment_matches_core(given: str, encoded: str) -> None:
    assert encode_segment(given) == encoded


@pytest.mark.parametrize(
    ("key", "partition", "folder"),
    [(f["key"], f["partition"], f["folder"]) for f in VECTORS["folders"]],
)
def test_partition_folders_match_core(
    key: list[str], partition: str | None, folder: str
) -> None:
    assert "/".join(_folder(key, partition)) == folder
