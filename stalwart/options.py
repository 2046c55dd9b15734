"""Stalwart's task options: assembled from what the app's middleware declare, parsed and
validated when ``@app.task`` decorates a function.

Every Celery task option keeps working; Stalwart's options sit beside them. Each option
belongs to one middleware (:class:`~stalwart.middleware.base.TaskOption`), which parses
its value and checks combinations; an option nobody declares fails at decoration time,
naming it, the closest known option and the options that exist.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from celery.app.task import Task

from stalwart.errors import TaskOptionError
from stalwart.middleware.base import OptionTarget, TaskOption
from stalwart.middleware.pipeline import Pipeline

__all__ = ["TaskOptions", "split_task_options"]

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


class TaskOptions(Mapping[str, Any]):
    """The parsed values of the Stalwart options one task sets.

    Read an option with its declaration (``RETRY.of(task.stalwart_options)``, typed) or
    by name (``task.stalwart_options.retry``, the default when the task does not set it).
    """

    def __init__(
        self,
        values: Mapping[str, Any] | None = None,
        declared: Mapping[str, TaskOption[Any]] | None = None,
    ) -> None:
        self._values = dict(values or {})
        self._declared = dict(declared or {})

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name in self._values:
            return self._values[name]
        if name in self._declared:
            return self._declared[name].default
        raise AttributeError(f"no task option {name!r}")

    def __repr__(self) -> str:
        return f"TaskOptions({self._values!r})"


def split_task_options(
    fun: Callable[..., Any], options: Mapping[str, Any], pipeline: Pipeline
) -> tuple[TaskOptions, dict[str, Any]]:
    """Separate Stalwart's options from Celery's, parsing and validating both.

    Returns the parsed :class:`TaskOptions` and the options to hand to Celery.
    """
    declared = pipeline.options
    base = options.get("base") or Task
    celery_options = {k: v for k, v in options.items() if k not in declared}
    _reject_unknown(fun, base, celery_options, declared)
    target = OptionTarget(fun, bound=bool(options.get("bind", False)))
    parsed = {
        name: declared[name].parse(value, target)
        for name, value in options.items()
        if name in declared
    }
    task_options = TaskOptions(parsed, declared)
    for middleware in pipeline:
        if any(option.name in parsed for option in middleware.options):
            middleware.check_options(task_options, target)
    return task_options, celery_options


def _reject_unknown(
    fun: Callable[..., Any],
    base: type,
    options: Mapping[str, Any],
    declared: Mapping[str, TaskOption[Any]],
) -> None:
    known_celery = _CELERY_DECORATOR_OPTIONS | {
        name
        for name in dir(base)
        if not name.startswith("_") and not callable(getattr(base, name, None))
    }
    for name in options:
        if name in known_celery:
            continue
        ours = sorted(declared)
        close = difflib.get_close_matches(name, sorted(set(ours) | known_celery), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise TaskOptionError(
            f"unknown task option {name!r} on {fun.__qualname__}{hint} "
            f"Stalwart options: {', '.join(ours)}; other names are Celery's "
            "task options (see the Celery docs)."
        )
