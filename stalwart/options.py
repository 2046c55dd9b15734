"""Stalwart's task options: parsed and validated when ``@app.task`` decorates a function.

Every Celery task option keeps working; Stalwart's options sit beside them. An option
nobody handles fails at decoration time, naming it and the options that exist.
Each feature validates its own options here, so a wrong value is reported where the
task is defined, not when it first runs.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from celery.app.task import Task

from stalwart.errors import TaskOptionError
from stalwart.flow.breaker import Breaker
from stalwart.flow.concurrency import Concurrency
from stalwart.flow.quota import Quota
from stalwart.flow.throttle import Throttle
from stalwart.flow.window import Window
from stalwart.keyspec import KeySpec
from stalwart.reliability.retry import RetryPolicy

__all__ = ["STALWART_OPTIONS", "TaskOptions", "split_task_options"]

STALWART_OPTIONS = (
    "breaker",
    "concurrency",
    "dead_letter",
    "idempotency_key",
    "idempotency_ttl",
    "limit_key",
    "quota",
    "retry",
    "throttle",
    "unique",
    "window",
)

# Options Celery's decorator takes that are not attributes of the Task class.
_CELERY_DECORATOR_OPTIONS = frozenset(
    {
        "autoretry_for",
        "base",
        "bind",
        "dont_autoretry_for",
        "exchange",
        "filter",
        "lazy",
        "name",
        "pydantic",
        "pydantic_context",
        "pydantic_dump_kwargs",
        "pydantic_strict",
        "queue",
        "retry_backoff",
        "retry_backoff_max",
        "retry_jitter",
        "retry_kwargs",
        "routing_key",
        "shared",
    }
)


@dataclass(frozen=True)
class TaskOptions:
    """What Stalwart knows about one task, beside Celery's own options."""

    retry: RetryPolicy | None = None
    idempotency_key: KeySpec | None = None
    idempotency_ttl: int = 86_400
    throttle: Throttle | None = None
    quota: Quota | None = None
    limit_key: KeySpec | None = None
    window: Window | None = None
    unique: bool = False
    concurrency: Concurrency | None = None
    breaker: Breaker | None = None
    dead_letter: bool = True

    @property
    def has_flow_control(self) -> bool:
        return bool(
            self.throttle
            or self.quota
            or self.window is not None
            or self.unique
            or self.concurrency
            or self.breaker
        )


def split_task_options(
    fun: Callable[..., Any], options: Mapping[str, Any]
) -> tuple[TaskOptions, dict[str, Any]]:
    """Separate Stalwart's options from Celery's, validating both.

    Returns the parsed :class:`TaskOptions` and the options to hand to Celery.
    """
    base = options.get("base") or Task
    celery_options = {k: v for k, v in options.items() if k not in STALWART_OPTIONS}
    _reject_unknown(fun, base, celery_options)
    ours = {k: v for k, v in options.items() if k in STALWART_OPTIONS}
    bound = bool(options.get("bind", False))
    return _parse(fun, ours, bound=bound), celery_options


def _reject_unknown(fun: Callable[..., Any], base: type, options: Mapping[str, Any]) -> None:
    known_celery = _CELERY_DECORATOR_OPTIONS | {
        name
        for name in dir(base)
        if not name.startswith("_") and not callable(getattr(base, name, None))
    }
    for name in options:
        if name in known_celery:
            continue
        known = sorted(set(STALWART_OPTIONS) | known_celery)
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise TaskOptionError(
            f"unknown task option {name!r} on {fun.__qualname__}{hint} "
            f"Stalwart options: {', '.join(STALWART_OPTIONS)}; other names are Celery's "
            "task options (see the Celery docs)."
        )


def _parse(fun: Callable[..., Any], values: Mapping[str, Any], *, bound: bool) -> TaskOptions:
    parsed: dict[str, Any] = dict(values)
    retry = values.get("retry")
    if retry is not None and not isinstance(retry, RetryPolicy):
        raise TaskOptionError(
            f"retry must be a stalwart.RetryPolicy(...), not {retry!r} (for Celery's own "
            "retries use autoretry_for/retry_kwargs)"
        )
    for option in ("idempotency_key", "limit_key"):
        if values.get(option) is not None:
            parsed[option] = KeySpec.parse(option, values[option], fun, bound=bound)
    ttl = values.get("idempotency_ttl", 86_400)
    if not isinstance(ttl, int) or isinstance(ttl, bool) or ttl <= 0:
        raise TaskOptionError(f"idempotency_ttl must be a positive number of seconds, not {ttl!r}")
    if "idempotency_ttl" in values and values.get("idempotency_key") is None:
        raise TaskOptionError("idempotency_ttl needs idempotency_key")
    _parse_flow_control(values, parsed)
    for flag in ("unique", "dead_letter"):
        if flag in values and not isinstance(values[flag], bool):
            raise TaskOptionError(f"{flag} must be True or False, not {values[flag]!r}")
    if values.get("limit_key") is not None and not (
        values.get("throttle") or values.get("quota") or values.get("concurrency")
    ):
        raise TaskOptionError("limit_key needs throttle, quota or concurrency")
    return TaskOptions(**parsed)


def _parse_flow_control(values: Mapping[str, Any], parsed: dict[str, Any]) -> None:
    """Flow-control options (stalwart.flow): strings become typed limits, or one error."""
    parsers: dict[str, Callable[[Any], Any]] = {
        "throttle": Throttle.parse,
        "quota": Quota.parse,
        "concurrency": Concurrency.parse,
        "breaker": Breaker.parse,
    }
    for option, parse in parsers.items():
        if values.get(option) is not None:
            parsed[option] = parse(values[option])
    window = values.get("window")
    if window is not None and not isinstance(window, Window):
        raise TaskOptionError(
            f'window must be a stalwart.Window("09:00-18:00", days=..., tz=..., '
            f"holidays=...), not {window!r}"
        )
