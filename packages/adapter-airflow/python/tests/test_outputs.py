"""baton_airflow.read_output: a native task reads what the build's steps committed (local store)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from conftest import BuildFactory

from baton_airflow import read_output
from baton_core import MissingOutputError
from baton_core.testing import write_output

FRAME = pl.DataFrame({"customer": ["a", "b"], "total_spend": [1.5, 2.5]})


def test_reads_the_store_of_the_build_relative_to_its_manifest(
    make_build: BuildFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BATON_STORAGE", raising=False)
    path = make_build(storage="store")
    write_output(path.parent / "store", "raw/orders", FRAME)
    assert read_output("raw/orders", manifest_path=path).equals(FRAME)


def test_the_workers_baton_storage_wins_over_the_build(
    make_build: BuildFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = make_build(storage="/nowhere")
    other = tmp_path / "worker-store"
    write_output(other, "daily_orders", FRAME, "2024-01-02")
    monkeypatch.setenv("BATON_STORAGE", str(other))
    assert read_output("daily_orders", "2024-01-02", manifest_path=path).equals(FRAME)
    with pytest.raises(MissingOutputError, match="has not been materialized"):
        read_output("daily_orders", "2024-01-03", manifest_path=path)
