"""The verdict of a Node step: which failures Dagster may retry."""

from baton_core.step import EXIT_DETERMINISTIC as DETERMINISTIC_EXIT
from baton_dagster.step import Redactor, step_failure


def test_a_finished_step_with_every_asset_materialized_passes() -> None:
    summary = {"failures": [], "skipped": {"b": "upstream failed"}, "finished": True}
    assert step_failure(0, summary, [], ["b"], Redactor([])) is None


def test_a_deterministic_exit_is_never_retried_and_secrets_are_redacted() -> None:
    summary = {
        "failures": [
            {
                "asset": "a",
                "partitionKey": None,
                "error": {"name": "BatonError", "message": "token s3cr3t is wrong"},
            }
        ],
        "skipped": {},
        "finished": True,
    }
    failure = step_failure(DETERMINISTIC_EXIT, summary, [], ["a"], Redactor(["s3cr3t"]))
    assert failure is not None
    assert failure.allow_retries is False
    assert failure.description == "a: BatonError: token *** is wrong"


def test_a_step_that_died_before_reporting_is_retryable_and_shows_stderr() -> None:
    failure = step_failure(1, None, [], ["a"], Redactor([]), stderr=["boom"])
    assert failure is not None
    assert failure.allow_retries is True
    assert failure.description is not None
    assert "before it reported a result" in failure.description
    assert failure.description.endswith("boom")


def test_a_step_nodes_watchdog_stopped_fails_retryably_saying_it_timed_out() -> None:
    line = (
        'baton: asset "a" [2024-01-02] timed out after 3 s (timeoutSeconds: 3); its '
        "compute blocked the event loop, so the process was stopped"
    )
    failure = step_failure(-9, None, [], ["a"], Redactor([]), stderr=["x", line])
    assert failure is not None
    assert failure.allow_retries is True
    assert failure.description is not None
    assert failure.description.startswith('asset "a" [2024-01-02] timed out after 3 s')
    assert "killed by SIGKILL" in failure.description


def test_a_check_only_step_needs_no_materialization() -> None:
    summary = {"failures": [], "skipped": {}, "finished": True, "retryable": True}
    assert step_failure(0, summary, [], [], Redactor([])) is None


def test_a_step_whose_warm_worker_died_is_retryable_and_says_so() -> None:
    line = (
        "baton worker pid 4242 died mid-step (killed, or out of memory?); "
        "the retry starts a fresh worker"
    )
    failure = step_failure(1, None, [], ["held"], Redactor([]), stderr=[line])
    assert failure is not None
    assert failure.allow_retries is True
    assert failure.description is not None
    assert failure.description == (
        f'{line} (the Node step failed (exit 1) before it reported a result for "held")'
    )
