"""baton_core.read_output against a real S3-API server (moto), with s3fs as the client."""

from __future__ import annotations

import time
import uuid

import pytest
import s3fs  # type: ignore[import-untyped]
from conftest import Moto
from frames import ORDERS
from polars.testing import assert_frame_equal

from baton_core.storage import (
    MissingOutputError,
    StorageError,
    read_output,
    read_record,
    s3_options,
)
from baton_core.testing import write_output


def prefix() -> str:
    return f"t-{uuid.uuid4().hex[:8]}"


def test_outputs_round_trip_through_a_bucket_prefix(s3_env: Moto) -> None:
    url = f"s3://{s3_env.bucket}/{prefix()}/store"
    written = write_output(url, "sales/orders", ORDERS, run_id="run-s3")
    write_output(url, "sales/orders", ORDERS.head(2), "2024-01-01", format="ipc")
    assert_frame_equal(read_output("sales/orders", storage=url), ORDERS)
    assert_frame_equal(read_output("sales/orders", "2024-01-01", url), ORDERS.head(2))
    assert read_record("sales/orders", storage=url) == written
    fs = s3fs.S3FileSystem(**s3_options())
    listed = fs.find(f"{url[len('s3://') :]}/sales/orders")
    assert f"{url[len('s3://') :]}/sales/orders/__unpartitioned__/record.json" in listed
    assert f"{url[len('s3://') :]}/sales/orders/2024-01-01/record.json" in listed


def test_baton_storage_names_the_bucket_without_a_prefix(
    s3_env: Moto, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = f"b-{uuid.uuid4().hex[:8]}"
    s3_env.create_bucket(bucket)
    write_output(f"s3://{bucket}", ["a b", "ü"], ORDERS, "x/y")
    monkeypatch.setenv("BATON_STORAGE", f"s3://{bucket}/")
    assert_frame_equal(read_output(["a b", "ü"], "x/y"), ORDERS)
    fs = s3fs.S3FileSystem(**s3_options())
    assert fs.exists(f"{bucket}/a%20b/%C3%BC/x%2Fy/record.json")


def test_a_missing_output_in_a_bucket_is_not_materialized(s3_env: Moto) -> None:
    url = f"s3://{s3_env.bucket}/{prefix()}"
    assert read_record("orders", storage=url) is None
    with pytest.raises(MissingOutputError, match=f"looked in s3://{s3_env.bucket}/"):
        read_output("orders", storage=url)


def test_a_data_object_that_stays_gone_is_an_error(s3_env: Moto) -> None:
    url = f"s3://{s3_env.bucket}/{prefix()}"
    record = write_output(url, "orders", ORDERS)
    fs = s3fs.S3FileSystem(**s3_options())
    fs.rm_file(f"{url[len('s3://') :]}/orders/__unpartitioned__/{record['file']}")
    with pytest.raises(MissingOutputError, match="is gone"):
        read_output("orders", storage=url)


def test_a_missing_bucket_is_named(s3_env: Moto) -> None:
    with pytest.raises(StorageError, match="does not exist") as caught:
        read_output("orders", storage="s3://no-such-bucket/x")
    assert "s3://no-such-bucket/x" in str(caught.value)
    assert s3_env.endpoint in str(caught.value)


def test_an_unreachable_endpoint_is_an_error_naming_it(
    s3_env: Moto, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conftest import free_port

    dead = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", dead)
    started = time.monotonic()
    with pytest.raises(StorageError) as caught:
        read_output("orders", storage=f"s3://{s3_env.bucket}/x")
    assert dead in str(caught.value)
    assert "AWS_ENDPOINT_URL_S3" in str(caught.value)
    assert time.monotonic() - started < 120


def test_env_replaces_os_environ_for_the_store_and_its_credentials(
    s3_env: Moto, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"s3://{s3_env.bucket}/{prefix()}"
    write_output(url, "orders", ORDERS)
    given = {**s3_env.env, "BATON_STORAGE": url}
    for name in s3_env.env:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9")  # not this one
    assert_frame_equal(read_output("orders", env=given), ORDERS)
    assert read_record("orders", storage=url, env=given) is not None
