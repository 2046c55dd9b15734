"""Recording: the pipeline's part of history (``sent``, ``started``, and the outcomes
only Stalwart knows: ``retried``, ``deferred``, ``dead_lettered``).

Celery's own signals supply the rest (``received``, ``succeeded``, ``failed``,
``revoked``: :mod:`stalwart.history.signals`). Every event goes into ``app.task_events``,
the process's buffer (:mod:`stalwart.events.buffer`): no round trip per task.
Recording is innermost among the built-ins, so ``started`` means the body really starts
(flow control and idempotency let it). An app records unless ``app.record_history``
is False.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from stalwart.events import EventKind, TaskEvent
from stalwart.middleware.base import Middleware
from stalwart.middleware.call import Execution, Publication
from stalwart.middleware.controls import Outcome, OutcomeKind
from stalwart.redaction import clip

if TYPE_CHECKING:
    from stalwart.app import Stalwart

__all__ = ["SENT_AT_HEADER", "Recording", "family"]

SENT_AT_HEADER = "stalwart_sent_at"


def family(root_id: Any, parent_id: Any, source: Any) -> dict[str, str]:
    """The canvas links of a task (root, parent, group), for its events."""
    group = source.get("group") if isinstance(source, dict) else getattr(source, "group", None)
    links = {"root_id": root_id, "parent_id": parent_id, "group_id": group}
    return {k: str(v) for k, v in links.items() if v}


def _records(app: Stalwart) -> bool:
    return bool(getattr(app, "record_history", True))


class Recording(Middleware):
    """Turns publishes, starts and Stalwart's outcomes into history events."""

    name = "recording"
    eager = False

    # -- producer --------------------------------------------------------------------------

    def before_publish(self, message: Publication) -> None:
        if _records(message.app):
            message.headers[SENT_AT_HEADER] = message.published_at

    def after_publish(self, message: Publication) -> None:
        app = message.app
        if not _records(app):
            return
        headers = message.headers
        fields: dict[str, Any] = {
            "queue": message.routing_key,
            "retries": headers.get("retries") or 0,
        }
        if headers.get("eta"):
            fields["eta"] = headers["eta"]
        if message.delayed is not None:
            fields["delayed"] = round(message.delayed, 3)  # waits in the delay store
        if message.republished:
            fields["republished"] = True  # a retry/deferral re-sending the running task
        else:
            args, kwargs = app.redactor.arguments(
                message.name, message.args, message.kwargs, message.task
            )
            fields["args"], fields["kwargs"] = args, kwargs
            fields.update(family(headers.get("root_id"), headers.get("parent_id"), headers))
        app.task_events.add(
            TaskEvent(EventKind.SENT, message.id, message.name, message.published_at, fields)
        )

    # -- worker ------------------------------------------------------------------------------

    def before_execute(self, execution: Execution) -> None:
        app = execution.app
        if _records(app):
            fields = {"worker": execution.request.hostname, "retries": execution.retries}
            app.task_events.add(
                TaskEvent(EventKind.STARTED, execution.id, execution.name, fields=fields)
            )

    def after_execute(self, execution: Execution, outcome: Outcome) -> None:
        app = execution.app
        if not _records(app):
            return
        event = _outcome_event(execution, outcome)
        if event is not None:
            app.task_events.add(event)


def _outcome_event(execution: Execution, outcome: Outcome) -> TaskEvent | None:
    at = execution.ended_at or time.time()
    if outcome.kind is OutcomeKind.DEFERRED:
        fields: dict[str, Any] = {"reason": outcome.reason, "until": outcome.until}
        return TaskEvent(EventKind.DEFERRED, execution.id, execution.name, at, fields)
    if outcome.kind is OutcomeKind.RETRIED:
        return TaskEvent(
            EventKind.RETRIED,
            execution.id,
            execution.name,
            at,
            _retry_fields(execution, outcome, at),
        )
    if outcome.kind is OutcomeKind.DEAD_LETTERED:
        exc = outcome.exc
        fields = {
            "reason": outcome.reason,
            "exc_type": _qualified(type(exc)) if exc is not None else None,
            "exc_message": clip(str(exc), 500) if exc is not None else None,
            "attempts": outcome.attempt,
        }
        # Written now, after the failure itself (whose event carries the body's end).
        return TaskEvent(EventKind.DEAD_LETTERED, execution.id, execution.name, time.time(), fields)
    return None


def _retry_fields(execution: Execution, outcome: Outcome, at: float) -> dict[str, Any]:
    from celery.exceptions import Retry

    from stalwart.middleware.retries import RETRY

    exc = outcome.exc
    fields: dict[str, Any] = {
        "worker": execution.request.hostname,
        "attempt": execution.retries + 1,
    }
    if isinstance(exc, Retry):  # Celery's own self.retry()
        cause = exc.exc
        fields["max_retries"] = execution.task.max_retries
        fields["reason"] = clip(f"{type(cause).__name__}: {cause}" if cause else str(exc), 1000)
        when = exc.when
        if isinstance(when, int | float):
            fields["delay"], fields["due"] = when, at + when
        elif when is not None and hasattr(when, "timestamp"):
            fields["due"] = when.timestamp()
        return fields
    policy = RETRY.of(execution.options)
    until = outcome.until or at
    fields.update(
        max_retries=policy.max_retries if policy is not None else None,
        delay=round(until - at, 3),
        due=round(until, 3),
        reason=outcome.reason,
    )
    return fields


def _qualified(kind: type) -> str:
    module = kind.__module__
    return kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"
