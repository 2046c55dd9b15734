"""Stalwart: production-grade Celery.

Tasks that are not lost, run once, respect cluster-wide limits, can be seen, and can be
replayed. ``Stalwart`` is a ``celery.Celery``; adopting it is changing ``Celery(...)``
to ``Stalwart(...)``.
"""

from stalwart.app import Stalwart
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
)
from stalwart.flow import Breaker, Concurrency, RetryAfter, Window
from stalwart.hooks import Deferred, Outcome, ReturnResult, TaskCall, TaskHook
from stalwart.reliability import Progress, RetryPolicy
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
    "Outcome",
    "ReturnResult",
    "TaskCall",
    "TaskHook",
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
]
