"""Ending an execution early, and how an execution ended.

A middleware's ``before_execute`` (or the task body) may end an execution without a
normal result by raising one of the :class:`EndExecution` exceptions; the pipeline
turns each into an :class:`Outcome`:

==================  ===============================================================
raised              outcome
==================  ===============================================================
``Deferred``        ``DEFERRED``: run again at ``until``; no retry consumed, no worker
                    slot held while waiting (flow control, a busy idempotency key)
``ReturnResult``    ``SUCCEEDED`` without running the body (a duplicate returning
                    the first run's result)
``GiveUp``          ``DEAD_LETTERED`` with the given reason, body not run (the poison
                    cap)
==================  ===============================================================

Everything else the body raises is a failure, and the pipeline's ``decide`` phase
says what becomes of it (``RETRIED``, ``DEAD_LETTERED`` or ``FAILED``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = [
    "DEFERRED_STATE",
    "Deferred",
    "EndExecution",
    "GiveUp",
    "Outcome",
    "OutcomeKind",
    "ReturnResult",
]


# The task state a deferred task shows (``AsyncResult.state``) until it runs again; its
# meta (``AsyncResult.info``) says why and until when.
DEFERRED_STATE = "DEFERRED"


class EndExecution(Exception):
    """Raised to end an execution early; see the subclasses."""


class Deferred(EndExecution):
    """Run this task later: at ``until`` (epoch seconds), because of ``reason``.

    Deferral is not failure: no retry is consumed and no worker slot is held while
    waiting. The pipeline reschedules the message with its retry count unchanged.
    """

    def __init__(self, until: float, reason: str) -> None:
        super().__init__(f"deferred until {until} ({reason})")
        self.until = until
        self.reason = reason


class ReturnResult(EndExecution):
    """End the execution successfully with ``value`` without running the body."""

    def __init__(self, value: Any) -> None:
        super().__init__("returned without running")
        self.value = value


class GiveUp(EndExecution):
    """Dead-letter this execution now with ``reason``; ``exc`` says why (kept in the
    dead letter). The body does not run."""

    def __init__(self, reason: str, exc: BaseException, attempts: int | None = None) -> None:
        super().__init__(str(exc))
        self.reason = reason
        self.exc = exc
        self.attempts = attempts


class OutcomeKind(StrEnum):
    SUCCEEDED = "succeeded"  # the body returned, or an early end with a result
    RETRIED = "retried"  # runs again at ``until`` (a retry is consumed)
    DEFERRED = "deferred"  # runs again at ``until`` (no retry consumed)
    DEAD_LETTERED = "dead_lettered"  # in the dead-letter store (``reason``)
    FAILED = "failed"  # failed for good, not dead-lettered (dead_letter=False, eager)
    REQUEUED = "requeued"  # not the task's fault (a store is down): the message goes back
    IGNORED = "ignored"  # the body raised Celery's Ignore, or Reject(requeue=True)


@dataclass
class Outcome:
    """How one execution ended. ``ran`` says whether the body ran at all."""

    kind: OutcomeKind
    result: Any = None
    exc: BaseException | None = None
    ran: bool = False
    until: float | None = None  # RETRIED / DEFERRED: when it runs again (epoch seconds)
    reason: str = ""  # DEFERRED: which limit; DEAD_LETTERED: the dead-letter reason
    control: EndExecution | None = None  # the early end that made it, if any
    attempt: int = 0  # RETRIED: the retry to come (1 = first); DEAD_LETTERED: attempts made

    @property
    def succeeded(self) -> bool:
        return self.kind is OutcomeKind.SUCCEEDED

    @property
    def waiting(self) -> bool:
        """True if the task runs again later (retry or deferral)."""
        return self.kind in (OutcomeKind.RETRIED, OutcomeKind.DEFERRED)
