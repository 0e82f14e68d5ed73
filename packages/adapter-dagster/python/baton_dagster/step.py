"""One Dagster step in Node, through Dagster Pipes: every reported event recorded, then the verdict.

`run_node_step` opens a Pipes session itself (`dg.open_pipes_session`) instead of calling
`PipesSubprocessClient.run`, for four reasons:

- results are yielded to Dagster while Node runs, so each materialization and check evaluation
  is in the event log as soon as its asset finishes, not when the process exits;
- a failed step keeps them: everything Node reported is yielded first, then the step fails with
  the first failure in the order the step ran its assets (`dg.Failure`);
- Node's stdout and stderr pass through here, with every known secret value replaced by `***`,
  before they reach Dagster's compute logs;
- a deterministic failure (exit code 3, or Node missing) is not retried whatever the retry policy;
- a step whose assets all have `timeoutSeconds` is stopped at its backstop deadline (the sum of
  their timeouts per partition key, plus a grace) even if Node is wedged, and fails saying it
  timed out (Dagster has no op timeout; contract §1 in packages/core/EXECUTION-CONTRACT.md).

Node is reached through `baton_core.worker.start_step_process`: a warm worker for this build and
these secrets (packages/core/WORKER-CONTRACT.md), or its own process (`BATON_WORKER=off`, every
slot busy). Both have `Popen`'s surface: the streams, exit code, SIGTERM (the step is cancelled)
and kill are handled here the same way. A worker that dies mid-step fails the step as retryable
with the client's line naming its pid.

The `PipesSubprocessClient` resource still configures the session: its `env`, `cwd`, context
injector, message reader and `termination_timeout_seconds` are used as `run` would use them.
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

import dagster as dg

from baton_core import redactor

# Exit code of the Node step for a deterministic failure (see @baton/testing CONTRACT-v2.md).
from baton_core.step import EXIT_DETERMINISTIC as DETERMINISTIC_EXIT
from baton_core.step import UNFINISHED_HINT
from baton_core.worker import StepProcess, died_mid_step, start_step_process

# The Node step writes how it ended here: failures, skipped and materialized assets, whether
# it finished (a Pipes `closed` exception only becomes an engine event, not the step's error).
SUMMARY_ENV_VAR = "BATON_DAGSTER_SUMMARY"
POLL_SECONDS = 0.1
STDERR_TAIL_LINES = 20
# Node's watchdog line when a compute blocked its event loop past the deadline (contract §1).
TIMED_OUT = "timed out"
# Per-partition row counts and content hashes of a range run's materialization (src/reports.ts).
PARTITIONS_METADATA_KEY = "baton/partitions"
# The Iceberg snapshot a materialization committed, as text (src/reports.ts, tableMetadata).
SNAPSHOT_METADATA_KEY = "iceberg/snapshot_id"
# The keys a range run's check failed for (src/reports.ts, rangeCheckReport).
FAILED_PARTITIONS_METADATA_KEY = "baton/failed_partitions"


class Redactor:
    """Replaces every known secret value by `***` (longest first, so no part of one is left)."""

    def __init__(self, secrets: Sequence[str]):
        self._redact = redactor(secrets)

    def __call__(self, text: str) -> str:
        return self._redact(text)

    def value(self, value: Any) -> Any:
        """The same JSON value with every string in it redacted."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if isinstance(value, dict):
            return {self(k): self.value(v) for k, v in value.items()}
        return value


class _Forwarder(threading.Thread):
    """Copies one of Node's streams to ours line by line, redacted; keeps the last lines."""

    def __init__(self, source: IO[str], target: IO[str], redact: Redactor):
        super().__init__(daemon=True)
        self._source, self._target, self._redact = source, target, redact
        self.tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)

    def run(self) -> None:
        for line in self._source:
            text = self._redact(line)
            self.tail.append(text.rstrip("\n"))
            self._target.write(text)
            self._target.flush()


# A multi-asset's step, or a standalone check's (`baton_dagster.checks`).
StepContext = dg.AssetExecutionContext | dg.AssetCheckExecutionContext


def run_node_step(
    context: StepContext,
    client: dg.PipesSubprocessClient,
    command: Sequence[str],
    *,
    env: Mapping[str, str],
    extras: Mapping[str, Any],
    selected: Sequence[str],
    secrets: Sequence[str],
    checks_only: bool = False,
    timeout_seconds: float | None = None,
) -> Iterator[dg.MaterializeResult[Any] | dg.AssetCheckResult]:
    """Run the Node step, yielding its results as they arrive; raise `dg.Failure` if it failed.

    `checks_only`: the step runs checks on stored outputs and materializes nothing; it fails,
    after every check evaluation is recorded, when Node failed it (a failed error-severity check:
    core's CHECK_FAILED, packages/core/CHECKS-CONTRACT.md §3).
    `timeout_seconds`: the backstop after which Node is stopped and the step fails as timed out.
    """
    redact = Redactor(secrets)
    deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
    timed_out = False
    with _summary_file() as summary_path:
        yielded = 0
        with dg.open_pipes_session(
            # A check op's context wraps the op's; Pipes takes that (an asset check op selects
            # no asset, so the Pipes context has none: Node reads what to check from the extras).
            context=context.op_execution_context
            if isinstance(context, dg.AssetCheckExecutionContext)
            else context,
            context_injector=client.context_injector,
            message_reader=client.message_reader,
            extras=dict(extras),
        ) as session:
            process = _start(
                command,
                cwd=client.cwd,
                env={
                    **os.environ,
                    **client.env,
                    **env,
                    SUMMARY_ENV_VAR: str(summary_path),
                    **session.get_bootstrap_env_vars(),
                },
                secrets=secrets,
            )
            assert process.stdout is not None and process.stderr is not None
            out = _Forwarder(process.stdout, sys.stdout, redact)
            err = _Forwarder(process.stderr, sys.stderr, redact)
            out.start()
            err.start()
            try:
                while not _exited(process):
                    results = session.get_reported_results()
                    yield from _with_partition_metadata(context, results[yielded:])
                    yielded = len(results)
                    if deadline is not None and time.monotonic() > deadline:
                        timed_out = True
                        context.log.error(
                            f"[baton] the step timed out after {timeout_seconds:g} s "
                            "(its assets' timeoutSeconds per partition key, plus "
                            "a grace); stopping Node"
                        )
                        break
            finally:
                if timed_out and process.poll() is None:
                    # Core's limit and Node's own watchdog had their chance: Node is wedged.
                    process.kill()
                    process.wait()
                # Interrupted (a terminated run, SIGTERM to the CLI) or abandoned: stop Node first.
                if process.poll() is None:
                    _stop(process, context, client.termination_timeout_seconds)
                out.join(timeout=10)
                err.join(timeout=10)
        # The session is closed: its reader has read every message Node wrote.
        results = session.get_reported_results()
        yield from _with_partition_metadata(context, results[yielded:])
        failure = step_failure(
            process.wait(),  # it has exited (or was stopped) above: at once
            _read_summary(summary_path),
            results,
            [] if checks_only else selected,
            redact,
            stderr=list(err.tail),
        )
    if timed_out:
        raise dg.Failure(
            description=(
                f"the step timed out after {timeout_seconds:g} s (timeoutSeconds of its "
                "assets, per partition key, plus a grace): Node was stopped"
                + (f"; {failure.description}" if failure is not None else "")
            ),
            metadata=failure.metadata if failure is not None else None,
            # As a timed-out task on any orchestrator: the asset's retry policy applies.
            allow_retries=True,
        )
    if failure is not None:
        raise failure


@contextmanager
def _summary_file() -> Iterator[Path]:
    """A private empty file Node writes the step's summary to, removed afterwards (one file,
    not a folder: a warm step is short enough that a folder's create and removal show)."""
    fd, name = tempfile.mkstemp(prefix="baton-step-", suffix=".json")
    os.close(fd)
    try:
        yield Path(name)
    finally:
        with suppress(FileNotFoundError):
            os.unlink(name)


def _with_partition_metadata(
    context: StepContext, results: Sequence[Any]
) -> Iterator[Any]:
    """Pipes results, attributed to their partitions where Dagster would not.

    A run over a partition range (a backfill's run for one key is a range of one: it has no
    `dagster/partition` tag) gets one result per asset and check from Pipes:

    - a materialization, which Dagster records once per partition of the range
      (dagster/_core/execution/plan/execute_step.py, _get_output_asset_events). Each partition's
      own row count, content hash and, for an Iceberg output, snapshot id, which Node sends in
      `baton/partitions`, are added to that partition's event (`add_asset_metadata(...,
      partition_key=)`) before it is yielded;
    - a check result, whose evaluation Dagster records without a partition unless the run has a
      partition key (AssetCheckResult.to_asset_check_evaluation). For a partitioned check, the
      check's output is yielded, then one `AssetCheckEvaluation` per key of the range, passed
      unless the key is in `baton/failed_partitions`.
    """
    ranged = context.has_partition_key_range and not context.has_partition_key
    for result in results:
        if ranged and isinstance(result, dg.AssetCheckResult):
            yield from _check_per_partition(context, result)
            continue
        per_partition = (
            result.metadata.get(PARTITIONS_METADATA_KEY)
            if isinstance(result, dg.MaterializeResult) and result.metadata
            else None
        )
        if (
            isinstance(context, dg.AssetExecutionContext)
            and isinstance(per_partition, dg.JsonMetadataValue)
            and isinstance(per_partition.data, dict)
        ):
            for key, values in per_partition.data.items():
                if key not in context.partition_keys or not isinstance(values, dict):
                    continue
                metadata: dict[str, Any] = {}
                if isinstance(values.get("rowCount"), int):
                    metadata["dagster/row_count"] = values["rowCount"]
                if isinstance(values.get("contentHash"), str):
                    metadata["baton/content_hash"] = values["contentHash"]
                if isinstance(values.get("snapshotId"), str):
                    metadata[SNAPSHOT_METADATA_KEY] = values["snapshotId"]
                if metadata:
                    context.add_asset_metadata(
                        metadata, asset_key=result.asset_key, partition_key=key
                    )
        yield result


def _check_per_partition(
    context: StepContext, result: dg.AssetCheckResult
) -> Iterator[Any]:
    op_context = (
        context.op_execution_context
        if isinstance(context, dg.AssetCheckExecutionContext)
        else context
    )
    by_output = op_context.assets_def.check_specs_by_output_name
    found = [
        (name, spec)
        for name, spec in by_output.items()
        if spec.asset_key == result.asset_key and spec.name == result.check_name
    ]
    if (
        not found
        or found[0][1].partitions_def is None
        # Not selected (a run that names no checks): Dagster lets the result through as is.
        or found[0][1].key not in context.selected_asset_check_keys
    ):
        yield result
        return
    output_name, spec = found[0]
    metadata = dict(result.metadata or {})
    failed_value = metadata.pop(FAILED_PARTITIONS_METADATA_KEY, None)
    failed = (
        set(failed_value.data)
        if isinstance(failed_value, dg.JsonMetadataValue)
        and isinstance(failed_value.data, list)
        else None
    )
    # What an AssetCheckResult becomes in a step: an output (downstream may depend on it) and
    # an evaluation (dagster/_core/execution/plan/execute_step.py, _process_user_event).
    yield dg.Output(None, output_name=output_name)
    for key in context.partition_keys:
        yield dg.AssetCheckEvaluation(
            asset_key=spec.asset_key,
            check_name=spec.name,
            passed=(key not in failed) if failed is not None else result.passed,
            metadata=metadata,
            severity=result.severity,
            description=result.description,
            blocking=spec.blocking,
            partition=key,
        )


def _start(
    command: Sequence[str],
    *,
    cwd: str | None,
    env: Mapping[str, str],
    secrets: Sequence[str],
) -> StepProcess:
    """The step on a warm worker for this build and these secrets, or its own Node process
    (`BATON_WORKER=off`, every slot busy): the same streams, exit code and signals either way
    (packages/core/WORKER-CONTRACT.md)."""
    try:
        return start_step_process(command, env, cwd, secrets=secrets)
    except OSError as error:
        # Raised from here, without the environment (and its secrets) in any frame shown.
        raise dg.Failure(
            description=(
                f"cannot start Node ({command[0]}): {error.strerror or error}; "
                "install Node 20+ or set BATON_NODE to the node binary"
            ),
            allow_retries=False,
        ) from None


def _exited(process: StepProcess) -> bool:
    try:
        process.wait(timeout=POLL_SECONDS)
    except subprocess.TimeoutExpired:
        return False
    return True


def _stop(process: StepProcess, context: StepContext, grace: float) -> None:
    """SIGTERM, as a user's cancellation would send; SIGKILL if Node outlives the grace period
    (on a warm worker: the step is cancelled, 143, and the worker exits after it)."""
    context.log.info("[baton] stopping the Node step (SIGTERM)")
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        context.log.warning(
            f"[baton] the Node step did not stop within {grace:g} s; killing it"
        )
        process.kill()
        process.wait()


def _read_summary(path: Path) -> dict[str, Any] | None:
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return summary if isinstance(summary, dict) else None


def _where(failure: Mapping[str, Any]) -> str:
    key = failure.get("partitionKey")
    return f"{failure['asset']}" + (f" [{key}]" if key else "")


def step_failure(
    exit_code: int,
    summary: dict[str, Any] | None,
    results: Sequence[Any],
    selected: Sequence[str],
    redact: Redactor,
    stderr: Sequence[str] = (),
) -> dg.Failure | None:
    """The step's verdict: None when every selected asset materialized or was skipped on purpose.

    Otherwise the failure to raise: the first asset failure in run order (message in the
    description, every failure and the skipped and materialized assets in metadata), or, when
    Node ended without a result for some asset, a message naming those assets.
    """
    materialized = sorted(
        {
            r.asset_key.to_user_string()
            for r in results
            if isinstance(r, dg.MaterializeResult) and r.asset_key is not None
        }
    )
    summary = redact.value(summary) if summary is not None else None
    failures: list[dict[str, Any]] = list(summary["failures"]) if summary else []
    skipped: dict[str, str] = dict(summary["skipped"]) if summary else {}
    failed = {f["asset"] for f in failures}
    missing = [
        a
        for a in selected
        if a not in materialized and a not in skipped and a not in failed
    ]
    finished = bool(summary and summary.get("finished"))
    if exit_code == 0 and finished and not failures and not missing:
        return None

    if failures:
        first = failures[0]
        error = first["error"]
        where = _where(first)
        description = f"{error['name']}: {error['message']}"
        description = f"{where}: {description}" if where else description
        if missing:
            description += f" (and no result for {_names(missing)})"
    elif exit_code < 0:
        try:
            name = signal.Signals(-exit_code).name
        except ValueError:
            name = f"signal {-exit_code}"
        description = f"the Node step was killed by {name} before it finished" + (
            f": no result for {_names(missing)}" if missing else ""
        )
    elif summary is None and exit_code != 0:
        # Node failed before the step began (an import error, a crash): its stderr says why.
        description = (
            f"the Node step failed (exit {exit_code}) before it reported a result for "
            f"{_names(missing or list(selected))}"
        )
    elif missing or not finished:
        description = (
            "the Node step ended before it finished: no result for "
            f"{_names(missing or list(selected))}; {UNFINISHED_HINT}"
        )
    else:
        description = f"the Node step failed (exit {exit_code})"
    if not summary and stderr:
        # Node's watchdog killed a compute that blocked its event loop, or the warm worker
        # running the step died (baton_core.worker's line, naming its pid): that line says why.
        watchdog = [line for line in stderr if TIMED_OUT in line]
        died = died_mid_step(stderr)
        if watchdog and not failures:
            description = f"{watchdog[-1].removeprefix('baton: ')} ({description})"
        elif died is not None and not failures:
            description = f"{died} ({description})"
        else:
            description += "\n" + "\n".join(stderr)

    stack = "\n\n".join(
        f"{_where(f)}:\n{f['error'].get('stack') or f['error']['message']}"
        for f in failures
    )
    metadata: dict[str, dg.MetadataValue] = {
        "baton/failed": dg.MetadataValue.json(
            {f["asset"]: f["error"]["message"] for f in failures}
        ),
        "baton/skipped": dg.MetadataValue.json(skipped),
        "baton/materialized": dg.MetadataValue.json(materialized),
        "baton/missing": dg.MetadataValue.json(missing),
        "baton/exit_code": dg.MetadataValue.int(exit_code),
    }
    if stack:
        metadata["stack"] = dg.MetadataValue.md(f"```\n{stack}\n```")
    # Deterministic failures (exit 3: a missing variable, a bad partition key, a failed
    # error-severity check...) fail the same way on every attempt: no retry.
    retryable = exit_code != DETERMINISTIC_EXIT and bool(
        summary.get("retryable", True) if summary else True
    )
    return dg.Failure(
        description=redact(description), metadata=metadata, allow_retries=retryable
    )


def _names(assets: Sequence[str]) -> str:
    return ", ".join(f'"{a}"' for a in assets)
