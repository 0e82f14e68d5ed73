"""The S3 store's variables from an Airflow AWS connection (no DB: the connection is built here)."""

from __future__ import annotations

import json

import pytest
from airflow.sdk import Connection

from baton_airflow.storage import (
    StorageConnectionError,
    connection_environment,
    storage_secrets,
)


def aws(**kwargs: object) -> Connection:
    extra = kwargs.pop("extra", None)
    return Connection(
        conn_id="store",
        conn_type="aws",
        extra=json.dumps(extra) if extra is not None else None,
        **kwargs,  # type: ignore[arg-type]
    )


def test_an_aws_connection_becomes_the_standard_aws_variables() -> None:
    conn = aws(
        login="AKIA1",
        password="s3cret",
        extra={
            "region_name": "eu-west-3",
            "endpoint_url": "http://127.0.0.1:9000",
            "aws_session_token": "tok",
            "baton_storage": "s3://bucket/prefix",
            "unrelated": "ignored",
        },
    )
    env = connection_environment(conn)
    assert env == {
        "AWS_ACCESS_KEY_ID": "AKIA1",
        "AWS_SECRET_ACCESS_KEY": "s3cret",
        "AWS_SESSION_TOKEN": "tok",
        "AWS_REGION": "eu-west-3",
        "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9000",
        "BATON_STORAGE": "s3://bucket/prefix",
    }
    assert storage_secrets(env) == ["AKIA1", "s3cret", "tok"]


def test_a_connection_without_keys_leaves_credentials_to_the_worker() -> None:
    assert connection_environment(aws(extra={"region_name": "us-east-2"})) == {
        "AWS_REGION": "us-east-2"
    }


def test_half_a_key_pair_is_an_error_naming_the_connection() -> None:
    with pytest.raises(StorageConnectionError, match=r"'store'.*both"):
        connection_environment(aws(login="AKIA1"))
