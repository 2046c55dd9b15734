"""Retries and dead letters: what becomes of an execution whose body raised.

A policy is given per task (``@app.task(retry=RetryPolicy(...))``) and checked when the
task is decorated. When the body raises, the :class:`Retries` middleware decides, with
:meth:`RetryPolicy.decide`:

- an exception in ``give_up_on`` -> dead-letter store at once (reason ``give_up``);
- an exception in ``retry_on`` with retries left -> run again after :meth:`delay`;
- no retries left -> dead-letter store (reason ``exhausted``); an exception not in
  ``retry_on``, or a task without a policy -> dead-letter store (reason ``failed``);

unless the task has ``dead_letter=False`` (then it just fails). The pipeline carries
the decision out (:mod:`stalwart.middleware.outcomes`).

Delays grow geometrically (``initial_delay * backoff ** retries``), are capped at
``backoff_max`` and, with ``jitter``, drawn uniformly from ``[delay / 2, delay]`` so a
burst of failures does not come back as a burst. An exception that carries a
``retry_after`` attribute (seconds, or an aware ``datetime``), as an HTTP 429 with
``Retry-After`` would, overrides the computed delay.

Deferral by flow control is not a retry: it never goes through this policy.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from stalwart.errors import TaskOptionError
from stalwart.middleware.base import Middleware, OptionTarget, TaskOption
from stalwart.middleware.call import Execution
from stalwart.middleware.controls import Outcome, OutcomeKind

__all__ = [
    "DEAD_LETTER",
    "RETRY",
    "Decision",
    "RetryPolicy",
    "Retries",
    "Verdict",
    "retry_after_hint",
]


class Verdict(StrEnum):
    RETRY = "retry"
    GIVE_UP = "give_up"  # a give_up_on exception
    EXHAUSTED = "exhausted"  # no retries left
    NOT_RETRYABLE = "not_retryable"  # not in retry_on


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    delay: float = 0.0


def _exception_types(name: str, value: object) -> tuple[type[BaseException], ...]:
    if isinstance(value, type):
        value = (value,)
    if not isinstance(value, tuple | list) or not all(
        isinstance(item, type) and issubclass(item, BaseException) for item in value
    ):
        raise TaskOptionError(
            f"RetryPolicy {name} must be a tuple of exception classes, not {value!r}"
        )
    return tuple(value)


@dataclass(frozen=True)
class RetryPolicy:
    """How a task is retried. Validated at construction (so at decoration time)."""

    max_retries: int = 3
    backoff: float = 2.0
    backoff_max: float = 600.0
    jitter: bool = True
    retry_on: tuple[type[BaseException], ...] = (Exception,)
    give_up_on: tuple[type[BaseException], ...] = ()
    initial_delay: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.max_retries, int) or isinstance(self.max_retries, bool):
            raise TaskOptionError(
                f"RetryPolicy max_retries must be an int, not {self.max_retries!r}"
            )
        if self.max_retries < 0:
            raise TaskOptionError(f"RetryPolicy max_retries must be >= 0, not {self.max_retries}")
        for name, low in (("backoff", 1.0), ("backoff_max", 0.0), ("initial_delay", 0.0)):
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool) or value < low:
                raise TaskOptionError(
                    f"RetryPolicy {name} must be a number >= {low}, not {value!r}"
                )
        if self.initial_delay > self.backoff_max:
            raise TaskOptionError(
                f"RetryPolicy initial_delay ({self.initial_delay}) is above backoff_max "
                f"({self.backoff_max})"
            )
        if not isinstance(self.jitter, bool):
            raise TaskOptionError(f"RetryPolicy jitter must be True or False, not {self.jitter!r}")
        object.__setattr__(self, "retry_on", _exception_types("retry_on", self.retry_on))
        object.__setattr__(self, "give_up_on", _exception_types("give_up_on", self.give_up_on))

    def base_delay(self, retries: int) -> float:
        """The delay before retry number ``retries + 1``, before jitter."""
        try:
            delay = self.initial_delay * self.backoff**retries
        except OverflowError:  # a huge retry count: the cap applies anyway
            return float(self.backoff_max)
        return float(min(self.backoff_max, delay))

    def delay(self, retries: int, rng: random.Random | None = None) -> float:
        """The delay before the next run, jitter included: in ``[base / 2, base]``."""
        base = self.base_delay(retries)
        if not self.jitter:
            return base
        return (rng or random).uniform(base / 2, base)

    def decide(self, exc: BaseException, retries: int) -> Decision:
        """What to do after the body raised ``exc`` having been retried ``retries`` times."""
        if isinstance(exc, self.give_up_on):
            return Decision(Verdict.GIVE_UP)
        if not isinstance(exc, self.retry_on):
            return Decision(Verdict.NOT_RETRYABLE)
        if retries >= self.max_retries:
            return Decision(Verdict.EXHAUSTED)
        hint = retry_after_hint(exc)
        return Decision(Verdict.RETRY, hint if hint is not None else self.delay(retries))


def retry_after_hint(exc: BaseException) -> float | None:
    """Seconds to wait as the exception asks (``exc.retry_after``), if it says."""
    hint = getattr(exc, "retry_after", None)
    if isinstance(hint, datetime):
        if hint.tzinfo is None:
            return None
        return max(0.0, (hint - datetime.now(UTC)).total_seconds())
    if isinstance(hint, int | float) and not isinstance(hint, bool) and hint >= 0:
        return float(hint)
    return None


def _parse_policy(value: Any, target: OptionTarget) -> RetryPolicy | None:
    if value is not None and not isinstance(value, RetryPolicy):
        raise TaskOptionError(
            f"retry must be a stalwart.RetryPolicy(...), not {value!r} (for Celery's own "
            "retries use autoretry_for/retry_kwargs)"
        )
    return value


def _parse_flag(value: Any, target: OptionTarget) -> bool:
    if not isinstance(value, bool):
        raise TaskOptionError(f"dead_letter must be True or False, not {value!r}")
    return value


RETRY: TaskOption[RetryPolicy | None] = TaskOption(
    "retry",
    parse=_parse_policy,
    default=None,
    doc="RetryPolicy(max_retries=..., backoff=..., ...): when a failed run runs again.",
)
DEAD_LETTER: TaskOption[bool] = TaskOption(
    "dead_letter",
    parse=_parse_flag,
    default=True,
    doc="False: a task that fails for good is not kept in the dead-letter store.",
)

_DEAD_REASON = {
    Verdict.GIVE_UP: "give_up",
    Verdict.EXHAUSTED: "exhausted",
    Verdict.NOT_RETRYABLE: "failed",
}


class Retries(Middleware):
    """Decides retry or dead letter for a failed execution, by the task's policy.

    Takes part in eager mode: a retry then runs again at once, as Celery's own
    ``self.retry()`` does under eager mode, and a final failure raises.
    """

    name = "retries"
    eager = True
    options = (RETRY, DEAD_LETTER)

    def decide(self, execution: Execution, exc: Exception) -> Outcome:
        retries = execution.retries
        policy = RETRY.of(execution.options)
        if policy is None:
            return Outcome(OutcomeKind.DEAD_LETTERED, reason="failed", attempt=retries + 1)
        decision = policy.decide(exc, retries)
        if decision.verdict is Verdict.RETRY:
            return Outcome(
                OutcomeKind.RETRIED,
                until=time.time() + decision.delay,
                attempt=retries + 1,
                reason=f"{type(exc).__name__}: {exc}"[:500],
            )
        return Outcome(
            OutcomeKind.DEAD_LETTERED, reason=_DEAD_REASON[decision.verdict], attempt=retries + 1
        )
