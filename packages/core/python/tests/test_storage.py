"""baton_core.read_output on a local store: the record first, then the file it names."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

import polars as pl
import pytest
from frames import ORDERS
from polars.testing import assert_frame_equal

import baton_core
from baton_core import storage
from baton_core.storage import (
    MissingOutputError,
    RecordMismatchError,
    StorageError,
    StorageUrlError,
    read_output,
    read_outputs,
    read_record,
    s3_options,
)
from baton_core.testing import write_output


def test_an_unpartitioned_output_reads_back_with_its_record(tmp_path: Path) -> None:
    written = write_output(tmp_path, "sales/orders", ORDERS, run_id="run-1")
    assert_frame_equal(read_output("sales/orders", storage=tmp_path), ORDERS)
    record = read_record(["sales", "orders"], storage=str(tmp_path))
    assert record == written
    assert record is not None
    assert record["rowCount"] == 3
    assert record["runId"] == "run-1"
    assert (
        tmp_path / "sales" / "orders" / "__unpartitioned__" / "record.json"
    ).is_file()


def test_the_key_may_be_a_string_or_a_sequence_and_is_re_exported(
    tmp_path: Path,
) -> None:
    write_output(tmp_path, ["sales", "orders"], ORDERS)
    key: Sequence[str] = ("sales", "orders")
    assert_frame_equal(baton_core.read_output(key, storage=tmp_path), ORDERS)


def test_partitions_have_their_own_encoded_folders(tmp_path: Path) -> None:
    day1 = ORDERS.head(1)
    day2 = ORDERS.tail(2)
    write_output(tmp_path, "events", day1, "2024-01-01-13:00")
    write_output(tmp_path, "events", day2, "2024-01-01-14:00")
    assert_frame_equal(read_output("events", "2024-01-01-13:00", tmp_path), day1)
    assert_frame_equal(read_output("events", "2024-01-01-14:00", tmp_path), day2)
    assert (tmp_path / "events" / "2024-01-01-13%3A00" / "record.json").is_file()
    with pytest.raises(MissingOutputError, match="has not been materialized"):
        read_output("events", storage=tmp_path)


def test_a_partition_named_like_the_reserved_folder_does_not_take_it(
    tmp_path: Path,
) -> None:
    write_output(tmp_path, "odd", ORDERS.head(1))
    write_output(tmp_path, "odd", ORDERS.tail(1), "__unpartitioned__")
    assert_frame_equal(read_output("odd", storage=tmp_path), ORDERS.head(1))
    assert_frame_equal(
        read_output("odd", "__unpartitioned__", tmp_path), ORDERS.tail(1)
    )
    assert (tmp_path / "odd" / "%5F_unpartitioned__" / "record.json").is_file()


def test_ipc_outputs_read_as_well(tmp_path: Path) -> None:
    record = write_output(tmp_path, "metrics", ORDERS, format="ipc")
    assert record["file"] is not None
    assert record["file"].endswith(".ipc")
    assert_frame_equal(read_output("metrics", storage=tmp_path), ORDERS)


def test_storage_defaults_to_baton_storage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_output(tmp_path, "orders", ORDERS)
    monkeypatch.setenv("BATON_STORAGE", str(tmp_path))
    assert_frame_equal(read_output("orders"), ORDERS)
    monkeypatch.setenv("BATON_STORAGE", tmp_path.as_uri())
    assert_frame_equal(read_output("orders"), ORDERS)
    monkeypatch.chdir(tmp_path.parent)
    monkeypatch.setenv("BATON_STORAGE", tmp_path.name)
    assert_frame_equal(read_output("orders"), ORDERS)


def test_an_unset_store_is_an_error_that_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("BATON_STORAGE", raising=False)
    with pytest.raises(StorageUrlError, match="BATON_STORAGE is not set"):
        read_output("orders")


@pytest.mark.parametrize(
    "url", ["gs://bucket/x", "s3a://bucket/x", "http://host/x", "az://c/x"]
)
def test_unsupported_schemes_name_the_supported_ones(url: str) -> None:
    with pytest.raises(StorageUrlError) as caught:
        read_output("orders", storage=url)
    message = str(caught.value)
    assert url.split("://")[0] + "://" in message
    assert "s3://bucket/prefix" in message
    assert "file:///absolute/path" in message


@pytest.mark.parametrize("url", ["s3://", "s3:///prefix", "file://host/x"])
def test_malformed_urls_are_errors(url: str) -> None:
    with pytest.raises(StorageUrlError):
        read_record("orders", storage=url)


def test_a_missing_output_says_what_to_materialize(tmp_path: Path) -> None:
    assert read_record("orders", storage=tmp_path) is None
    with pytest.raises(MissingOutputError) as caught:
        read_output("sales/orders", "2024-01-02", tmp_path)
    assert "baton materialize --select sales/orders --partition 2024-01-02" in str(
        caught.value
    )


def test_a_record_of_another_asset_is_refused(tmp_path: Path) -> None:
    write_output(tmp_path, "orders", ORDERS)
    theirs = tmp_path / "orders" / "__unpartitioned__"
    mine = tmp_path / "Orders" / "__unpartitioned__"
    mine.mkdir(parents=True)
    for item in theirs.iterdir():
        (mine / item.name).write_bytes(item.read_bytes())
    with pytest.raises(RecordMismatchError, match='belongs to "orders"'):
        read_output("Orders", storage=tmp_path)
    with pytest.raises(RecordMismatchError):
        read_record("Orders", storage=tmp_path)


def test_a_record_of_another_partition_is_refused(tmp_path: Path) -> None:
    write_output(tmp_path, "orders", ORDERS, "2024-01-01")
    record = json.loads((tmp_path / "orders/2024-01-01/record.json").read_text())
    record["partitionKey"] = "2024-01-02"
    (tmp_path / "orders/2024-01-01/record.json").write_text(json.dumps(record))
    with pytest.raises(RecordMismatchError, match='partition "2024-01-02"'):
        read_output("orders", "2024-01-01", tmp_path)


def test_only_the_file_the_record_names_is_read_never_a_glob(tmp_path: Path) -> None:
    write_output(tmp_path, "orders", ORDERS.head(1))
    # An older data file next to the committed one (not yet collected) must not be read.
    ORDERS.write_parquet(tmp_path / "orders" / "__unpartitioned__" / "data-0.parquet")
    assert_frame_equal(read_output("orders", storage=tmp_path), ORDERS.head(1))


def test_a_data_file_replaced_after_the_record_was_read_is_re_read_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    part = tmp_path / "orders" / "__unpartitioned__"
    old = write_output(tmp_path, "orders", ORDERS.head(1))
    old_record = (part / "record.json").read_bytes()
    write_output(tmp_path, "orders", ORDERS)  # a newer commit...
    new_record = (part / "record.json").read_bytes()
    assert old["file"] is not None
    (part / old["file"]).unlink()  # ...that collected the old data file
    (part / "record.json").write_bytes(old_record)  # the record the reader sees first
    real = storage._Store.read
    reads: list[str] = []

    def racing(self: storage._Store, segments: Sequence[str]) -> bytes:
        reads.append(segments[-1])
        if segments[-1] == old["file"]:
            (part / "record.json").write_bytes(new_record)  # the newer commit lands
        return real(self, segments)

    monkeypatch.setattr(storage._Store, "read", racing)
    assert_frame_equal(read_output("orders", storage=tmp_path), ORDERS)
    assert reads[0] == "record.json"
    assert reads[1] == old["file"]
    assert reads[2] == "record.json"
    assert len(reads) == 4


def test_a_record_whose_file_stays_gone_is_an_error_naming_the_asset(
    tmp_path: Path,
) -> None:
    record = write_output(tmp_path, "orders", ORDERS)
    assert record["file"] is not None
    (tmp_path / "orders" / "__unpartitioned__" / record["file"]).unlink()
    with pytest.raises(MissingOutputError, match='data file of "orders" is gone'):
        read_output("orders", storage=tmp_path)


def rewrite(tmp_path: Path, **fields: object) -> None:
    path = tmp_path / "orders" / "__unpartitioned__" / "record.json"
    record = json.loads(path.read_text())
    record.update(fields)
    path.write_text(json.dumps(record))


def test_an_output_without_a_table_is_an_error(tmp_path: Path) -> None:
    write_output(tmp_path, "orders", ORDERS)
    rewrite(tmp_path, format="none", file=None, rowCount=None)
    with pytest.raises(MissingOutputError, match="no table output"):
        read_output("orders", storage=tmp_path)


ICEBERG_TABLE = {
    "format": "iceberg",
    "catalog": "lake",
    "name": "analytics.daily_events",
    "snapshotId": "4817311548932601471",
    "partitionColumn": None,
    "location": "s3://warehouse/analytics/daily_events",
}


def test_an_iceberg_output_names_its_table_snapshot_and_the_pyiceberg_read(
    tmp_path: Path,
) -> None:
    write_output(tmp_path, "orders", ORDERS)
    rewrite(tmp_path, format="iceberg", file=None, table=ICEBERG_TABLE)
    with pytest.raises(StorageError) as caught:
        read_output("orders", storage=tmp_path)
    assert not isinstance(caught.value, MissingOutputError)
    message = str(caught.value)
    assert "is Iceberg table analytics.daily_events snapshot 4817311548932601471" in (
        message
    )
    assert caught.value.hint.endswith(
        'load_catalog("rest", uri=…, warehouse=…).load_table("analytics.daily_events")'
        ".scan(snapshot_id=4817311548932601471).to_polars()"
    )
    assert 'catalog resource "lake"' in caught.value.hint
    # The record itself reads as any other, with its table.
    record = read_record("orders", storage=tmp_path)
    assert record is not None
    assert record["table"]["snapshotId"] == "4817311548932601471"


def test_an_iceberg_record_without_its_table_is_an_error(tmp_path: Path) -> None:
    write_output(tmp_path, "orders", ORDERS)
    rewrite(tmp_path, format="iceberg", file=None)
    with pytest.raises(StorageError, match="names no table snapshot"):
        read_output("orders", storage=tmp_path)


@pytest.mark.parametrize("name", ["../orders.parquet", "..", "a/b.parquet", ""])
def test_a_record_naming_a_file_outside_its_folder_is_refused(
    tmp_path: Path, name: str
) -> None:
    write_output(tmp_path, "orders", ORDERS)
    rewrite(tmp_path, file=name)
    with pytest.raises(StorageError, match="not a file in its folder"):
        read_output("orders", storage=tmp_path)


def test_a_row_count_that_disagrees_with_the_record_is_an_error(tmp_path: Path) -> None:
    write_output(tmp_path, "orders", ORDERS)
    rewrite(tmp_path, rowCount=4)
    with pytest.raises(StorageError, match="has 3 rows, its record says 4"):
        read_output("orders", storage=tmp_path)


def test_a_damaged_record_is_an_error(tmp_path: Path) -> None:
    write_output(tmp_path, "orders", ORDERS)
    (tmp_path / "orders" / "__unpartitioned__" / "record.json").write_text("{")
    with pytest.raises(StorageError, match="cannot read the output record"):
        read_record("orders", storage=tmp_path)


@pytest.mark.parametrize("key", ["", "a//b", []])
def test_empty_key_parts_are_errors(tmp_path: Path, key: str | list[str]) -> None:
    with pytest.raises(StorageError, match="key"):
        read_record(key, storage=tmp_path)


def test_an_empty_partition_key_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="partition key"):
        read_record("orders", "", tmp_path)


def test_without_polars_the_error_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "polars", None)
    with pytest.raises(ImportError, match=r"baton-core\[read\]"):
        read_output("orders", storage=tmp_path)


def test_without_s3fs_the_error_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "s3fs", None)
    with pytest.raises(ImportError, match=r"baton-core\[s3\]"):
        read_record("orders", storage="s3://bucket/prefix")


def test_s3_options_follow_the_storage_contract() -> None:
    assert s3_options({}) == {
        "client_kwargs": {"region_name": "us-east-1"},
        "config_kwargs": {"s3": {"addressing_style": "virtual"}},
    }
    both = s3_options(
        {
            "AWS_REGION": "eu-west-1",
            "AWS_DEFAULT_REGION": "eu-central-1",
            "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9000",
            "AWS_ENDPOINT_URL": "http://127.0.0.1:1",
            "AWS_ACCESS_KEY_ID": "id",
            "AWS_SECRET_ACCESS_KEY": "secret",
            "AWS_SESSION_TOKEN": "token",
        }
    )
    assert both == {
        "client_kwargs": {"region_name": "eu-west-1"},
        "config_kwargs": {"s3": {"addressing_style": "path"}},
        "endpoint_url": "http://127.0.0.1:9000",
        "key": "id",
        "secret": "secret",
        "token": "token",
    }
    fallback = s3_options(
        {
            "AWS_DEFAULT_REGION": "eu-central-1",
            "AWS_ENDPOINT_URL": "http://127.0.0.1:1",
            "BATON_S3_PATH_STYLE": "false",
            "AWS_PROFILE": "ci",
        }
    )
    assert fallback["client_kwargs"] == {"region_name": "eu-central-1"}
    assert fallback["endpoint_url"] == "http://127.0.0.1:1"
    assert fallback["config_kwargs"] == {"s3": {"addressing_style": "virtual"}}
    assert fallback["profile"] == "ci"
    forced = s3_options({"BATON_S3_PATH_STYLE": "TRUE"})
    assert forced["config_kwargs"] == {"s3": {"addressing_style": "path"}}
    # Anything but true/false (or unset) is an error, as in core's S3 store and the Pipes client.
    for bad in ("yes", "1"):
        with pytest.raises(
            StorageError, match="BATON_S3_PATH_STYLE must be true or false"
        ):
            s3_options({"BATON_S3_PATH_STYLE": bad, "AWS_ENDPOINT_URL": "http://h"})
    empty = s3_options({"BATON_S3_PATH_STYLE": "", "AWS_ENDPOINT_URL": "http://h"})
    assert empty["config_kwargs"] == {"s3": {"addressing_style": "path"}}


def test_read_outputs_concatenates_partitions_in_the_order_given(
    tmp_path: Path,
) -> None:
    write_output(tmp_path, "events", ORDERS.head(1), "2024-01-01")
    write_output(tmp_path, "events", ORDERS.tail(2), "2024-01-02")
    assert_frame_equal(
        read_outputs("events", ["2024-01-02", "2024-01-01"], tmp_path),
        pl.concat([ORDERS.tail(2), ORDERS.head(1)]),
    )
    assert_frame_equal(read_outputs("events", ["2024-01-01"], tmp_path), ORDERS.head(1))
    with pytest.raises(MissingOutputError, match='"events" partition "2024-01-03"'):
        read_outputs("events", ["2024-01-01", "2024-01-03"], tmp_path)
    with pytest.raises(MissingOutputError, match="no partitions"):
        read_outputs("events", [], tmp_path)
    with pytest.raises(TypeError, match="not one key"):
        read_outputs("events", "2024-01-01", tmp_path)


def test_an_unreadable_record_is_a_storage_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "orders" / "__unpartitioned__" / "record.json").mkdir(parents=True)
    with pytest.raises(StorageError, match=r"cannot read .*record\.json"):
        read_record("orders", storage=tmp_path)
