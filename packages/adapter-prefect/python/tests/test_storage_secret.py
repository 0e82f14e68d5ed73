"""The storage Secret: a Prefect Secret block's JSON becomes the step's S3 variables (no server)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from prefect.blocks.system import Secret
from pydantic import SecretStr

from baton_prefect import BatonError, BatonProject

from .conftest import Build

CREDENTIALS = {
    "aws_access_key_id": "AKIAPREFECTTEST",
    "aws_secret_access_key": "s3cr3t-from-prefect",
    "region": "eu-west-3",
    "endpoint_url": "http://127.0.0.1:9000",
}


class FakeSecret:
    """As Prefect's Secret: a string is kept as a SecretStr, and get() JSON-decodes it."""

    def __init__(self, value: Any) -> None:
        self.value = SecretStr(value) if isinstance(value, str) else value

    def get(self) -> Any:
        if isinstance(self.value, SecretStr):
            try:
                return json.loads(self.value.get_secret_value())
            except ValueError:
                return self.value.get_secret_value()
        return self.value


@pytest.fixture
def saved(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Secret blocks by name, as Secret.load would find them on the server."""
    blocks: dict[str, Any] = {}

    def load(name: str) -> FakeSecret:
        return FakeSecret(blocks[name])

    # The class baton_prefect.resources loads from: Prefect's own Secret block.
    monkeypatch.setattr(Secret, "load", load)
    return blocks


def project(build: Build, secret: str | None = "baton-s3") -> BatonProject:
    options = {"storageSecret": secret} if secret else {}
    return BatonProject.from_build(
        build(storage="s3://bucket/baton", options=options), flow_name="shop"
    )


def test_the_secret_becomes_the_steps_s3_variables_and_is_masked(
    build: Build, saved: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    saved["baton-s3"] = json.dumps(CREDENTIALS)
    monkeypatch.setenv("AWS_SESSION_TOKEN", "the-workers-own-token")
    monkeypatch.setenv("AWS_PROFILE", "worker")
    monkeypatch.delenv("BATON_STORAGE", raising=False)
    environment = project(build).environment([])
    env = environment.env
    assert env["AWS_ACCESS_KEY_ID"] == "AKIAPREFECTTEST"
    assert env["AWS_SECRET_ACCESS_KEY"] == "s3cr3t-from-prefect"
    assert env["AWS_REGION"] == "eu-west-3"
    assert env["AWS_ENDPOINT_URL_S3"] == "http://127.0.0.1:9000"
    assert env["BATON_STORAGE"] == "s3://bucket/baton"
    # The Secret's key pair is one identity: the worker's token and profile do not mix in.
    assert "AWS_SESSION_TOKEN" not in env and "AWS_PROFILE" not in env
    line = "key AKIAPREFECTTEST secret s3cr3t-from-prefect at http://127.0.0.1:9000"
    assert environment.redact(line) == "key *** secret *** at http://127.0.0.1:9000"


def test_a_session_token_is_masked_too(build: Build, saved: dict[str, Any]) -> None:
    saved["baton-s3"] = json.dumps({**CREDENTIALS, "aws_session_token": "tok-123"})
    environment = project(build).environment([])
    assert environment.env["AWS_SESSION_TOKEN"] == "tok-123"
    assert environment.redact("tok-123") == "***"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("not json", r'"baton-s3" is not a JSON object'),
        (
            {**CREDENTIALS, "secret_key": "x"},
            r"unknown key\(s\) secret_key; use aws_access_key_id",
        ),
        (
            {"aws_access_key_id": "AKIA"},
            r"needs both aws_access_key_id and aws_secret_access_key",
        ),
    ],
)
def test_a_malformed_secret_is_refused_by_name(
    build: Build, saved: dict[str, Any], value: Any, message: str
) -> None:
    saved["baton-s3"] = value
    with pytest.raises(BatonError, match=message):
        project(build).environment([])


def test_without_a_secret_the_workers_environment_decides_and_is_masked(
    build: Build, saved: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAWORKER")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "worker-secret-value")
    environment = project(build, secret=None).environment([])
    assert environment.env["AWS_SECRET_ACCESS_KEY"] == "worker-secret-value"
    assert environment.redact("worker-secret-value") == "***"


def test_a_storage_secret_that_is_not_a_name_is_refused(build: Build) -> None:
    manifest = build(options={"storageSecret": 3})
    with pytest.raises(BatonError, match=r'"storageSecret" is not a name'):
        BatonProject.from_build(manifest, flow_name="shop")


def test_a_json_object_value_works_but_warns_that_prefect_shows_it_unmasked(
    build: Build, saved: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    saved["baton-s3"] = CREDENTIALS
    with caplog.at_level("WARNING", logger="baton_prefect.resources"):
        environment = project(build).environment([])
    assert environment.env["AWS_SECRET_ACCESS_KEY"] == "s3cr3t-from-prefect"
    assert "save the JSON as a string" in caplog.text
    assert "s3cr3t-from-prefect" not in caplog.text
    caplog.clear()
    saved["baton-s3"] = json.dumps(CREDENTIALS)
    with caplog.at_level("WARNING", logger="baton_prefect.resources"):
        project(build).environment([])
    assert caplog.text == ""
