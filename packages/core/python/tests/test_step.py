"""baton_core.step: the verdict by exit code and events, redaction, and run_step's streaming.

run_step runs any argv, so a short Python child stands in for nothing here: it is the process
whose output and exit code are under test (the Node step itself is tested in core's TypeScript).
"""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest
from factories import manifest

from baton_core.manifest_types import ManifestResource
from baton_core.step import (
    EVENT_PREFIX,
    EXIT_DETERMINISTIC,
    EXIT_NO_NODE,
    StepResult,
    redactor,
    run_step,
    secret_values,
    step_command,
)
from baton_core.worker import DIED_MID_STEP


def start(*assets: str, keys: list[str] | None = None) -> dict[str, Any]:
    return {"type": "step_start", "assets": list(assets), "partitionKeys": keys or []}


def end(status: str = "success", error: str | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {"type": "step_end", "status": status}
    if error is not None:
        event["error"] = {"message": error}
    return event


def done(asset: str, key: str | None = None) -> dict[str, Any]:
    return {"type": "materialization", "asset": asset, "partitionKey": key}


def failed(asset: str, message: str) -> dict[str, Any]:
    return {"type": "asset_failure", "asset": asset, "error": {"message": message}}


def test_success_needs_exit_0_step_end_and_every_result() -> None:
    verdict = StepResult(0, [start("a", "b"), done("a"), done("b"), end()]).verdict(
        ["a", "b"]
    )
    assert verdict.ok and verdict.message == "" and verdict.missing == []


def test_exit_0_without_every_result_is_a_failure() -> None:
    verdict = StepResult(0, [start("a", "b"), done("a"), end()]).verdict(["a", "b"])
    assert not verdict.ok and verdict.retryable
    assert verdict.missing == ["b"]
    assert verdict.message.startswith(
        "the Node step ended before it finished: no result for b;"
    )


def test_a_worker_that_died_mid_step_is_named_not_an_unsettled_promise() -> None:
    died = DIED_MID_STEP.format(pid=4242)
    result = StepResult(1, [start("a", "b"), done("a")], stderr=["a print", died])
    verdict = result.verdict(["a", "b"])
    assert not verdict.ok and verdict.retryable and verdict.missing == ["b"]
    assert verdict.message == f"{died}; no result for b"
    # An asset's own failure still leads: the worker's death came after it.
    failing = StepResult(1, [start("a"), failed("a", "boom")], stderr=[died])
    assert failing.verdict(["a"]).message == "a: boom"


def test_a_missing_partition_key_is_named() -> None:
    events = [start("a", keys=["k1", "k2"]), done("a", "k1"), end()]
    verdict = StepResult(0, events).verdict(["a"])
    assert not verdict.ok and "no result for a [k2]" in verdict.message


def test_exit_1_is_retryable_and_names_the_first_failure() -> None:
    events = [
        start("a", "b"),
        failed("a", "boom"),
        failed("b", "later"),
        end("failure"),
    ]
    verdict = StepResult(1, events).verdict(["a", "b"])
    assert not verdict.ok and verdict.retryable
    assert verdict.message == "a: boom"


def test_a_baton_error_keeps_its_own_asset_prefix() -> None:
    events = [
        start("a"),
        failed("a", 'asset "a": unknown partition key "x"'),
        end("failure"),
    ]
    verdict = StepResult(EXIT_DETERMINISTIC, events).verdict(["a"])
    assert not verdict.retryable
    assert verdict.message == 'asset "a": unknown partition key "x"'


def test_exit_127_is_deterministic_and_says_how_to_fix() -> None:
    verdict = StepResult(EXIT_NO_NODE).verdict(["a"])
    assert not verdict.ok and not verdict.retryable
    assert "set BATON_NODE" in verdict.message


def test_an_exit_before_step_start_quotes_stderr() -> None:
    verdict = StepResult(1, [], ["Error: Cannot find module"]).verdict(["a"])
    assert verdict.retryable
    assert (
        verdict.message
        == "the Node step exited with code 1 before it started: Error: Cannot find module"
    )


def test_a_step_end_error_without_asset_failures() -> None:
    verdict = StepResult(3, [start("a"), end("failure", "manifest is stale")]).verdict(
        ["a"]
    )
    assert not verdict.retryable and verdict.message == "manifest is stale"


def test_a_cancelled_step_is_never_retried() -> None:
    verdict = StepResult(-15, [start("a")], cancelled=True).verdict(["a"])
    assert verdict.cancelled and not verdict.retryable
    assert "no result for a" in verdict.message


def test_a_skipped_asset_has_a_result() -> None:
    events = [start("a"), {"type": "asset_skipped", "asset": "a"}, end()]
    assert StepResult(0, events).verdict(["a"]).ok


def test_secret_values_come_from_the_secret_fields_longest_first() -> None:
    resource: ManifestResource = {
        "key": "db",
        "description": None,
        "config": [
            {
                "field": "password",
                "env": "DB_PASSWORD",
                "secret": True,
                "default": None,
                "description": None,
            },
            {
                "field": "token",
                "env": "DB_TOKEN",
                "secret": True,
                "default": None,
                "description": None,
            },
            {
                "field": "host",
                "env": "DB_HOST",
                "secret": False,
                "default": None,
                "description": None,
            },
        ],
    }
    env = {"DB_PASSWORD": "pw", "DB_TOKEN": "long-token", "DB_HOST": "db.local"}
    data = manifest(resources=[resource])
    assert secret_values(data, ["db", "unknown"], env) == ["long-token", "pw"]
    assert (
        redactor(["pw", "long-token"])("long-token pw db.local") == "*** *** db.local"
    )


def test_step_command_uses_baton_node(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATON_NODE", "/opt/node/bin/node")
    assert step_command(
        "entry.js", "baton/manifest.json", "run", ["--select", "a"]
    ) == [
        "/opt/node/bin/node",
        "entry.js",
        "run",
        "--manifest",
        "baton/manifest.json",
        "--select",
        "a",
    ]


def test_run_step_streams_events_redacts_and_keeps_the_exit_code() -> None:
    lines = [
        EVENT_PREFIX + json.dumps(start("a")),
        EVENT_PREFIX + json.dumps(failed("a", "password s3cret rejected")),
        EVENT_PREFIX + "{not json",
        "plain s3cret output",
    ]
    child = (
        "import sys\n"
        f"print({json.dumps(chr(10).join(lines))})\n"
        "print('warning s3cret', file=sys.stderr)\n"
        "sys.exit(3)\n"
    )
    seen: list[dict[str, Any]] = []
    output: list[tuple[str, str]] = []
    result = run_step(
        [sys.executable, "-c", child],
        env={},
        on_event=seen.append,
        on_line=lambda stream, text: output.append((stream, text)),
        secrets=["s3cret"],
    )
    assert result.exit_code == 3
    assert [e["type"] for e in seen] == ["step_start", "asset_failure"]
    assert result.failure == "password *** rejected"
    assert ("stdout", EVENT_PREFIX + "{not json") in output
    assert ("stdout", "plain *** output") in output
    assert result.stderr == ["warning ***"]
    verdict = result.verdict(["a"])
    assert not verdict.retryable and verdict.message == "a: password *** rejected"


def test_run_step_reports_a_missing_binary_as_exit_127() -> None:
    result = run_step(["/nonexistent/node", "entry.js"], env={})
    assert result.exit_code == EXIT_NO_NODE
    assert "cannot start /nonexistent/node" in result.stderr[0]
