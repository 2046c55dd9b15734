"""Stalwart: production-grade Celery.

Tasks that are not lost, run once, respect cluster-wide limits, can be seen, and can be
replayed. ``Stalwart`` is a ``celery.Celery``; adopting it is changing ``Celery(...)``
to ``Stalwart(...)``.

The names below are imported when first used (``from stalwart import Stalwart`` works
as usual): the ``stalwart`` command imports this package before anything else, and
most of its commands never need Celery's machinery, so they do not pay for importing
it. Where each name lives is written out in ``_LOCATIONS``; errors are imported at
once, and so is the version gate (:mod:`stalwart.compat`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from stalwart import compat  # noqa: F401 - refuses an untested Celery/kombu, first
from stalwart.errors import (
    EmbeddedServerError,
    NotFound,
    ReplayRefused,
    ScheduleError,
    SettingsError,
    StalwartError,
    StoreUnavailable,
    TargetError,
    TaskOptionError,
    UnsupportedVersion,
)

if TYPE_CHECKING:
    from stalwart.app import Stalwart
    from stalwart.limits import Breaker, Concurrency, RetryAfter, Window
    from stalwart.middleware import (
        Deferred,
        Execution,
        GiveUp,
        Middleware,
        Outcome,
        OutcomeKind,
        Publication,
        ReturnResult,
        TaskOption,
    )
    from stalwart.middleware.retries import RetryPolicy
    from stalwart.progress import Progress
    from stalwart.settings import Settings
    from stalwart.task import StalwartTask

__version__ = "0.1.0"

__all__ = [
    # The app and its settings
    "Settings",
    "Stalwart",
    "StalwartTask",
    # Task options
    "Breaker",
    "Concurrency",
    "Progress",
    "RetryAfter",
    "RetryPolicy",
    "Window",
    # Extension points
    "Deferred",
    "Execution",
    "GiveUp",
    "Middleware",
    "Outcome",
    "OutcomeKind",
    "Publication",
    "ReturnResult",
    "TaskOption",
    # Errors
    "EmbeddedServerError",
    "NotFound",
    "ReplayRefused",
    "ScheduleError",
    "SettingsError",
    "StalwartError",
    "StoreUnavailable",
    "TargetError",
    "TaskOptionError",
    "UnsupportedVersion",
]

_LOCATIONS = {
    "Settings": "stalwart.settings",
    "Stalwart": "stalwart.app",
    "StalwartTask": "stalwart.task",
    "Breaker": "stalwart.limits",
    "Concurrency": "stalwart.limits",
    "RetryAfter": "stalwart.limits",
    "Window": "stalwart.limits",
    "Progress": "stalwart.progress",
    "RetryPolicy": "stalwart.middleware.retries",
    "Deferred": "stalwart.middleware",
    "Execution": "stalwart.middleware",
    "GiveUp": "stalwart.middleware",
    "Middleware": "stalwart.middleware",
    "Outcome": "stalwart.middleware",
    "OutcomeKind": "stalwart.middleware",
    "Publication": "stalwart.middleware",
    "ReturnResult": "stalwart.middleware",
    "TaskOption": "stalwart.middleware",
}


def __getattr__(name: str) -> Any:
    module = _LOCATIONS.get(name)
    if module is None:
        raise AttributeError(f"module 'stalwart' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
