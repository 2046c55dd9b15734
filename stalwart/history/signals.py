"""History from Celery's own signals: what only Celery knows about a task.

===========  ===============================================  =====================
event        signal                                           process
===========  ===============================================  =====================
received     ``task_received``                                worker main process
succeeded    ``task_success`` (also an early end with a       pool child
             result, e.g. an idempotent duplicate)
failed       ``task_failure`` (the body, or the worker lost   child or main process
             it: SIGKILL, time limit)
revoked      ``task_revoked``                                 worker main process
===========  ===============================================  =====================

``sent``, ``started``, ``retried``, ``deferred`` and ``dead_lettered`` come from the
pipeline (:mod:`stalwart.middleware.recording`). Every event goes into the app's
buffer (``app.task_events``). Celery's signals are process-wide; these receivers act only
for Stalwart apps that record.
"""

from __future__ import annotations

import time
import traceback as tb
from typing import TYPE_CHECKING, Any, cast

from celery import signals

from stalwart.events import EventKind, TaskEvent
from stalwart.events.buffer import flush_all
from stalwart.middleware.recording import family
from stalwart.redaction import clip

if TYPE_CHECKING:
    from stalwart.app import Stalwart

__all__ = ["connect_signals", "recording_app"]


def recording_app(app: Any) -> Stalwart | None:
    """``app`` if it is a Stalwart app that records (signals fire for any Celery app)."""
    # Looked up on the class: reading ``app.task_events`` would connect to Redis (and
    # start the embedded server), which an eager call must not do.
    if (
        hasattr(type(app), "task_events")
        and hasattr(app, "driver")
        and getattr(app, "record_history", True)
    ):
        return cast("Stalwart", app)
    return None


def _ending(app: Stalwart, task_id: str) -> tuple[float, float | None]:
    """(when the body ended, its runtime) of the execution running ``task_id`` here."""
    execution = app.driver.current(task_id)
    if execution is None or execution.ended_at is None:
        return time.time(), None
    return execution.ended_at, execution.runtime


def _on_received(request: Any = None, **_: Any) -> None:
    app = recording_app(getattr(request, "app", None))
    if app is None or request is None:
        return
    name = request.name
    delivery = request.delivery_info or {}
    headers = request.request_dict or {}
    args, kwargs = app.redactor.arguments(name, request.args, request.kwargs, app.tasks.get(name))
    fields: dict[str, Any] = {
        "worker": request.hostname,
        "queue": delivery.get("routing_key"),
        "retries": headers.get("retries") or 0,
        "args": args,
        "kwargs": kwargs,
        **family(request.root_id, request.parent_id, headers),
    }
    if request.eta:
        fields["eta"] = str(request.eta)
    if delivery.get("redelivered"):
        fields["redelivered"] = True
    app.task_events.add(TaskEvent(EventKind.RECEIVED, request.id, name, fields=fields))


def _on_revoked(
    sender: Any = None,
    request: Any = None,
    terminated: bool = False,
    signum: Any = None,
    expired: bool = False,
    **_: Any,
) -> None:
    app = recording_app(getattr(sender, "app", None))
    if app is None or request is None:
        return
    reason = "expired" if expired else ("terminated" if terminated else "revoked")
    fields = {
        "worker": getattr(request, "hostname", None),
        "reason": reason,
        "signum": str(signum) if signum else None,
    }
    app.task_events.add(
        TaskEvent(EventKind.REVOKED, request.id, getattr(sender, "name", ""), fields=fields)
    )


def _on_success(sender: Any = None, result: Any = None, **_: Any) -> None:
    app = recording_app(getattr(sender, "app", None))
    if app is None or sender is None or sender.request.is_eager:
        return  # eager calls (unit tests) store nothing
    request = sender.request
    at, runtime = _ending(app, request.id)
    fields = {"worker": request.hostname, "runtime": runtime, "result": app.redactor.text(result)}
    app.task_events.add(TaskEvent(EventKind.SUCCEEDED, request.id, sender.name, at, fields))


def _on_failure(
    sender: Any = None,
    task_id: str | None = None,
    exception: BaseException | None = None,
    einfo: Any = None,
    **_: Any,
) -> None:
    app = recording_app(getattr(sender, "app", None))
    if app is None or sender is None or task_id is None:
        return
    if getattr(sender.request, "is_eager", False):
        return  # eager calls (unit tests) store nothing
    trace = getattr(einfo, "traceback", None)
    if trace is None and exception is not None:
        trace = "".join(tb.format_exception(exception))
    at, runtime = _ending(app, task_id)
    fields = {
        "worker": getattr(sender.request, "hostname", None),
        "runtime": runtime,
        "exception": clip(f"{type(exception).__name__}: {exception}", 1000),
        "traceback": clip(trace, 20_000),
    }
    app.task_events.add(TaskEvent(EventKind.FAILED, task_id, sender.name, at, fields))


def _on_shutdown(**_: Any) -> None:
    flush_all()


def connect_signals() -> None:
    """Connect the receivers to Celery's signals (idempotent: dispatch uids)."""
    signals.task_received.connect(
        _on_received, weak=False, dispatch_uid="stalwart.history.received"
    )
    signals.task_revoked.connect(_on_revoked, weak=False, dispatch_uid="stalwart.history.revoked")
    signals.task_success.connect(_on_success, weak=False, dispatch_uid="stalwart.history.succeeded")
    signals.task_failure.connect(_on_failure, weak=False, dispatch_uid="stalwart.history.failed")
    signals.worker_process_shutdown.connect(
        _on_shutdown, weak=False, dispatch_uid="stalwart.history.child"
    )
    signals.worker_shutdown.connect(_on_shutdown, weak=False, dispatch_uid="stalwart.history.main")
