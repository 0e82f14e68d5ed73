"""Whether a finished Node step succeeded, and whether a retry can help (truth contract v2).

A step succeeds only when it exited 0, printed `step_end` with status success and reported a
result (a materialization for each partition key, a failure or a skip) for every selected asset.
Exit codes 3 (a deterministic Baton error) and 127 (Node cannot start) are never worth a retry.
baton_core's `StepResult.verdict` decides this when the copied baton_core has it; until then this
module applies the same rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from baton_core import StepResult

DETERMINISTIC_EXIT_CODES = (3, 127)


@dataclass(frozen=True)
class Verdict:
    """`ok`: the step did everything asked; otherwise `message` says why and `retryable` whether
    the retry policy applies."""

    ok: bool
    retryable: bool
    message: str
    missing: list[str] = field(default_factory=list)
    stack: str | None = None


def verdict(result: StepResult, selected: Sequence[str]) -> Verdict:
    """The verdict on a finished step that ran the ``selected`` assets."""
    failures = result.of_type("asset_failure")
    first = failures[0]["error"] if failures else None
    stack = first.get("stack") if first else None
    core_verdict = getattr(result, "verdict", None)
    if callable(core_verdict):
        v = core_verdict(list(selected))
        return Verdict(v.ok, v.retryable, v.message, list(v.missing), stack)
    missing = [a for a in selected if not _has_result(result, a)]
    ends = result.of_type("step_end")
    ended = bool(ends) and ends[-1].get("status") == "success"
    if result.exit_code == 0 and ended and not missing:
        return Verdict(True, False, "")
    if first is not None:
        message = f"{first.get('name', 'Error')}: {first.get('message', '')}"
    elif missing and result.exit_code in (0, 1):
        message = (
            "the Node step ended before it finished: no result for "
            + ", ".join(missing)
            + "; a compute whose promise never settles, or process.exit() in user code?"
        )
    else:
        tail = "\n".join(result.stderr[-20:]).strip()
        message = f"the Baton step exited with code {result.exit_code}" + (
            f": {tail}" if tail else ""
        )
    deterministic = result.exit_code in DETERMINISTIC_EXIT_CODES or (
        bool(failures) and all(f["error"].get("retryable") is False for f in failures)
    )
    return Verdict(False, not deterministic, message, missing, stack)


def _has_result(result: StepResult, asset: str) -> bool:
    for kind in ("asset_failure", "asset_skipped"):
        if any(e.get("asset") == asset for e in result.of_type(kind)):
            return True
    keys = {
        m.get("partitionKey")
        for m in result.of_type("materialization")
        if m.get("asset") == asset
    }
    if not keys:
        return False
    starts = result.of_type("step_start")
    wanted = set(starts[-1].get("partitionKeys") or []) if starts else set()
    return None in keys or wanted <= keys
