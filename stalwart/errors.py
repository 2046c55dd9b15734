"""Every error Stalwart raises on purpose.

Hierarchy::

    StalwartError                   root: catch this to catch everything below
    ├── SettingsError               a STALWART_* variable has a wrong value
    ├── TaskOptionError             @app.task got an unknown or invalid option
    ├── StoreUnavailable            a store (broker, coordination, database) is unreachable
    │   └── EmbeddedServerError     the embedded Valkey server could not be started or reached
    ├── TargetError                 `-A module:app` does not name a Stalwart/Celery app
    ├── NotFound                    a record (task, dead letter, schedule) does not exist
    ├── ReplayRefused               a dead letter was already replayed (use force to repeat)
    ├── ActionRefused               an operator action does not apply to the record's state
    ├── QueryError                  a history query has an invalid filter (state, time, cursor)
    ├── ScheduleError               a periodic schedule is invalid or conflicts with another
    ├── OutboxError                 a task cannot be written to the transactional outbox
    └── UnsupportedVersion          the installed Celery/kombu is outside the tested range
                                    (also an ImportError: raised when Stalwart is imported)

Each message says what was wrong and what to do about it; the CLI prints it as one
line and exits with status 2.
"""

from __future__ import annotations

__all__ = [
    "ActionRefused",
    "EmbeddedServerError",
    "NotFound",
    "OutboxError",
    "QueryError",
    "ReplayRefused",
    "ScheduleError",
    "SettingsError",
    "StalwartError",
    "StoreUnavailable",
    "TargetError",
    "TaskOptionError",
    "UnsupportedVersion",
]


class StalwartError(Exception):
    """Root of every error Stalwart raises on purpose."""


class SettingsError(StalwartError):
    """A setting has a wrong value (names the variable, the value and what is expected)."""


class TaskOptionError(StalwartError, TypeError):
    """An option given to ``@app.task`` is unknown or has an invalid value."""


class StoreUnavailable(StalwartError):
    """A store (broker, coordination store, database) cannot be reached."""


class EmbeddedServerError(StoreUnavailable):
    """The embedded Valkey server could not be started, reached or stopped."""


class TargetError(StalwartError):
    """An ``-A MODULE:APP`` target cannot be imported or is not an app."""


class NotFound(StalwartError, LookupError):
    """A record asked for by id or name does not exist."""


class ScheduleError(StalwartError, ValueError):
    """A periodic schedule is invalid (cron, zone, task, timing) or its name is taken."""


class QueryError(StalwartError, ValueError):
    """A history query has an invalid filter (state, time range, cursor)."""


class ReplayRefused(StalwartError):
    """A dead letter was already replayed; replaying it again needs ``force``."""


class OutboxError(StalwartError, ValueError):
    """A task cannot be written to the transactional outbox (options, arguments, database)."""


class UnsupportedVersion(StalwartError, ImportError):
    """The installed Celery or kombu is not a version Stalwart is tested against."""


class ActionRefused(StalwartError):
    """An operator action does not apply now (e.g. revoking a task that already finished)."""
