"""Errors a Prefect user sees when a Baton run cannot start or an asset fails."""

from __future__ import annotations

from typing import Self


class BatonError(Exception):
    """Base class of the errors raised by baton_prefect."""


class BatonManifestError(BatonError):
    """The manifest is missing, foreign or of a version this module cannot read."""


class BatonPartitionError(BatonError):
    """A run asked for a partition that does not exist (raised before any task starts)."""


class BatonSelectionError(BatonError):
    """A run named an asset, schedule or sensor the manifest does not have."""


class BatonStepError(BatonError):
    """An asset failed in the TypeScript step: the message and stack are the TypeScript ones.

    ``retryable`` is False for a failure no retry can fix (a deterministic Baton error, no Node,
    a cancelled run): the task's retry condition then refuses its retries.
    """

    def __init__(
        self,
        asset: str,
        message: str,
        stack: str | None = None,
        *,
        retryable: bool = True,
    ) -> None:
        self.asset = asset
        self.ts_message = message
        self.ts_stack = stack
        self.retryable = retryable
        super().__init__(f"{message}\n{_stack_body(stack)}" if stack else message)


class BatonStepTimeout(BatonStepError, TimeoutError):
    """An attempt ran out of its ``timeoutSeconds``: core's own limit, or the task's
    ``timeout_seconds`` when Node did not stop by itself.

    A TimeoutError, so that Prefect's task engine ends the task run in its ``TimedOut`` state
    (prefect/task_engine.py ``handle_timeout``, which also applies the retries).
    """

    def __new__(cls, *args: object, **kwargs: object) -> Self:
        # OSError.__new__ would read (asset, message) as (errno, strerror).
        return TimeoutError.__new__(cls)

    def __init__(
        self,
        asset: str,
        message: str,
        stack: str | None = None,
        *,
        retryable: bool = True,
    ) -> None:
        super().__init__(asset, message, stack, retryable=retryable)
        # OSError.__init__ keeps the args __new__ saw (none): set the text as BaseException would.
        self.args = (f"{message}\n{_stack_body(stack)}" if stack else message,)


class BatonRunError(BatonError):
    """Some assets of a flow run did not succeed."""


def _stack_body(stack: str) -> str:
    # A V8 stack starts with "Name: message"; keep only the frames after the message we show.
    lines = stack.splitlines()
    frames = [line for line in lines if line.lstrip().startswith("at ")]
    return "TypeScript stack:\n" + "\n".join(frames or lines)
