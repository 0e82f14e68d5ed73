"""A real S3-API server for the storage tests: moto_server from this venv on a free loopback port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

# moto's first answer takes 2-25 s on a loaded machine; this is a deadline, not a pause.
START_DEADLINE_S = 120.0


@dataclass(frozen=True)
class Moto:
    endpoint: str
    bucket: str
    env: dict[str, str]

    def create_bucket(self, name: str) -> None:
        request = urllib.request.Request(f"{self.endpoint}/{name}", method="PUT")
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture(scope="session")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Moto]:
    server = Path(sys.executable).parent / "moto_server"
    assert server.exists(), (
        f"{server} is missing: the core gate installs moto[server] (packages/testing/python/requirements-moto.txt)"
    )
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with log.open("wb") as out:
        child = subprocess.Popen(
            [str(server), "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ},
        )
    try:
        deadline = time.monotonic() + START_DEADLINE_S
        while not answers(f"{endpoint}/moto-api/"):
            if child.poll() is not None:
                raise RuntimeError(f"moto_server exited: {log.read_text()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"moto_server did not answer on {endpoint}: {log}")
            time.sleep(0.2)  # poll interval while waiting for the first answer
        found = Moto(
            endpoint=endpoint,
            bucket="baton-test",
            env={
                "AWS_ACCESS_KEY_ID": "baton-test-key",
                "AWS_SECRET_ACCESS_KEY": "baton-test-secret",
                "AWS_REGION": "us-east-1",
                "AWS_ENDPOINT_URL_S3": endpoint,
            },
        )
        found.create_bucket(found.bucket)
        yield found
    finally:
        child.terminate()
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


@pytest.fixture
def s3_env(moto: Moto, monkeypatch: pytest.MonkeyPatch) -> Moto:
    """The moto variables in os.environ, and none of the machine's own AWS settings."""
    for name in list(os.environ):
        if name.startswith("AWS_") or name == "BATON_S3_PATH_STYLE":
            monkeypatch.delenv(name)
    for name, value in moto.env.items():
        monkeypatch.setenv(name, value)
    return moto
