"""Recording every task's lifecycle: producer-side ``sent`` and the worker-side events.

Where each event comes from:

===========  ===============================================  =====================
event        source                                           process
===========  ===============================================  =====================
sent         ``before_task_publish`` (any Stalwart producer)  producer / worker
received     ``task_received``                                worker main process
started      :class:`RecordingHook` (innermost hook: the      pool child
             body really starts, flow control let it run)
succeeded    ``task_success`` (also an early end with a       pool child
             result, e.g. an idempotent duplicate)
failed       ``task_failure``                                 child or main process
retried      ``task_retry`` (Celery's own ``self.retry``)     pool child
revoked      ``task_revoked``                                 worker main process
===========  ===============================================  =====================

``deferred``, ``dead_lettered``, ``replayed`` and Stalwart's own retries are appended
by the code that makes them happen (:mod:`stalwart.events`). Every event goes through
the process's :class:`~stalwart.history.buffer.EventBuffer`: no round trip per task.

An app records unless ``app.record_history = False`` (the benchmark's "off" side).
Celery's signals are process-wide; the handlers act only for Stalwart apps.
"""

from __future__ import annotations

import time
import traceback as tb
import weakref
from typing import TYPE_CHECKING, Any, cast

from celery import current_app, current_task, signals

from stalwart.events import EventKind, TaskEvent
from stalwart.history.buffer import buffer_for, flush_all
from stalwart.hooks import Outcome, TaskCall, TaskHook
from stalwart.redaction import Redactor, clip

if TYPE_CHECKING:
    from stalwart.app import Stalwart

__all__ = ["SENT_AT_HEADER", "RecordingHook", "record", "recording_enabled"]

SENT_AT_HEADER = "stalwart_sent_at"

_redactors: weakref.WeakKeyDictionary[Stalwart, Redactor] = weakref.WeakKeyDictionary()
# Per running body: its monotonic start, then (end time, runtime) once it returned, so
# the final event carries the moment the body ended (before any dead-lettering).
_started: dict[str, float] = {}
_ended: dict[str, tuple[float, float]] = {}
MAX_TRACKED = 10_000


def recording_enabled(app: Any) -> bool:
    """True for a Stalwart app that has not switched recording off."""
    return _recording_app(app) is not None


def _recording_app(app: Any) -> Stalwart | None:
    """``app`` if it is a Stalwart app that records (signals fire for any Celery app)."""
    records = getattr(app, "record_history", True)
    if hasattr(app, "settings") and hasattr(app, "hook_chain") and records:
        return cast("Stalwart", app)
    return None


def record(app: Stalwart, kind: EventKind, task_id: str, name: str, **fields: Any) -> None:
    """Buffer one event of ``app`` (sent with the next batch)."""
    buffer_for(app).add(TaskEvent(kind, task_id, name or "", time.time(), fields))


def _redactor(app: Stalwart) -> Redactor:
    redactor = _redactors.get(app)
    if redactor is None:
        redactor = _redactors[app] = Redactor(app.settings.redact)
    return redactor


def _arguments(app: Stalwart, name: str, args: Any, kwargs: Any) -> tuple[str | None, str]:
    task = app.tasks.get(name) if name else None
    return _redactor(app).arguments(name, args, kwargs, task)


class RecordingHook(TaskHook):
    """Records ``started`` when the body is about to run (innermost hook)."""

    def __init__(self, app: Stalwart) -> None:
        self.app = app

    def before_execute(self, call: TaskCall) -> None:
        if not recording_enabled(self.app):
            return
        request = call.task.request
        if len(_started) > MAX_TRACKED:  # bodies that ended without a final signal
            _started.clear()
            _ended.clear()
        _started[call.id] = time.monotonic()
        record(
            self.app,
            EventKind.STARTED,
            call.id,
            call.name,
            worker=request.hostname,
            retries=request.retries or 0,
        )

    def after_execute(self, call: TaskCall, outcome: Outcome) -> None:
        start = _started.pop(call.id, None)
        if start is not None:
            _ended[call.id] = (time.time(), round(time.monotonic() - start, 6))


def _ending(task_id: str) -> tuple[float, float | None]:
    """(when the body ended, its runtime) for the final event of ``task_id``."""
    _started.pop(task_id, None)
    ended = _ended.pop(task_id, None)
    return ended if ended is not None else (time.time(), None)


# -- producer side -------------------------------------------------------------------


def _on_publish(
    sender: str | None = None,
    body: Any = None,
    routing_key: str | None = None,
    headers: dict[str, Any] | None = None,
    **_: Any,
) -> None:
    app = _recording_app(current_app._get_current_object())
    if app is None or headers is None or "id" not in headers:
        return
    now = time.time()
    headers[SENT_AT_HEADER] = now
    task_id, name = str(headers["id"]), str(headers.get("task") or sender or "")
    running = current_task._get_current_object() if current_task else None
    fields: dict[str, Any] = {"queue": routing_key, "retries": headers.get("retries") or 0}
    if headers.get("eta"):
        fields["eta"] = headers["eta"]
    if running is not None and running.request.id == task_id:
        fields["republished"] = True  # a retry/deferral re-sending the running task
    else:
        args, kwargs = _body_arguments(body)
        fields["args"], fields["kwargs"] = _arguments(app, name, args, kwargs)
        fields.update(_family(headers.get("root_id"), headers.get("parent_id"), headers))
    buffer_for(app).add(TaskEvent(EventKind.SENT, task_id, name, now, fields))


def _body_arguments(body: Any) -> tuple[Any, Any]:
    if isinstance(body, list | tuple) and len(body) >= 2:
        return body[0], body[1]
    if isinstance(body, dict):  # protocol 1
        return body.get("args"), body.get("kwargs")
    return (), {}


def _family(root_id: Any, parent_id: Any, source: Any) -> dict[str, str]:
    group = source.get("group") if isinstance(source, dict) else getattr(source, "group", None)
    family = {"root_id": root_id, "parent_id": parent_id, "group_id": group}
    return {k: str(v) for k, v in family.items() if v}


# -- worker main process ----------------------------------------------------------------


def _on_received(request: Any = None, **_: Any) -> None:
    app = _recording_app(getattr(request, "app", None))
    if app is None or request is None:
        return
    name = request.name
    delivery = request.delivery_info or {}
    headers = request.request_dict or {}
    args, kwargs = _arguments(app, name, request.args, request.kwargs)
    fields: dict[str, Any] = {
        "worker": request.hostname,
        "queue": delivery.get("routing_key"),
        "retries": headers.get("retries") or 0,
        "args": args,
        "kwargs": kwargs,
        **_family(request.root_id, request.parent_id, headers),
    }
    if request.eta:
        fields["eta"] = str(request.eta)
    if delivery.get("redelivered"):
        fields["redelivered"] = True
    record(app, EventKind.RECEIVED, request.id, name, **fields)


def _on_revoked(
    sender: Any = None,
    request: Any = None,
    terminated: bool = False,
    signum: Any = None,
    expired: bool = False,
    **_: Any,
) -> None:
    app = _recording_app(getattr(sender, "app", None))
    if app is None or request is None:
        return
    reason = "expired" if expired else ("terminated" if terminated else "revoked")
    record(
        app,
        EventKind.REVOKED,
        request.id,
        getattr(sender, "name", ""),
        worker=getattr(request, "hostname", None),
        reason=reason,
        signum=str(signum) if signum else None,
    )


# -- pool child (where the body runs) ---------------------------------------------------


def _on_success(sender: Any = None, result: Any = None, **_: Any) -> None:
    app = _recording_app(getattr(sender, "app", None))
    if app is None or sender is None:
        return
    request = sender.request
    at, runtime = _ending(request.id)
    fields = {"worker": request.hostname, "runtime": runtime, "result": _redactor(app).text(result)}
    buffer_for(app).add(TaskEvent(EventKind.SUCCEEDED, request.id, sender.name, at, fields))


def _on_failure(
    sender: Any = None,
    task_id: str | None = None,
    exception: BaseException | None = None,
    einfo: Any = None,
    **_: Any,
) -> None:
    app = _recording_app(getattr(sender, "app", None))
    if app is None or sender is None or task_id is None:
        return
    trace = getattr(einfo, "traceback", None)
    if trace is None and exception is not None:
        trace = "".join(tb.format_exception(exception))
    at, runtime = _ending(task_id)
    fields = {
        "worker": getattr(sender.request, "hostname", None),
        "runtime": runtime,
        "exception": clip(f"{type(exception).__name__}: {exception}", 1000),
        "traceback": clip(trace, 20_000),
    }
    buffer_for(app).add(TaskEvent(EventKind.FAILED, task_id, sender.name, at, fields))


def _on_retry(sender: Any = None, request: Any = None, reason: Any = None, **_: Any) -> None:
    app = _recording_app(getattr(sender, "app", None))
    if app is None or sender is None or request is None:
        return
    at, _runtime = _ending(request.id)
    options = getattr(sender, "stalwart_options", None)
    if getattr(options, "retry", None) is not None:
        return  # a RetryPolicy retry: stalwart.reliability appended the event itself
    when = getattr(reason, "when", None)
    exc = getattr(reason, "exc", None)
    fields: dict[str, Any] = {
        "worker": getattr(request, "hostname", None),
        "attempt": (request.retries or 0) + 1,
        "max_retries": getattr(sender, "max_retries", None),
        "reason": clip(f"{type(exc).__name__}: {exc}" if exc else str(reason), 1000),
    }
    if isinstance(when, int | float):
        fields["delay"] = when
        fields["due"] = at + when
    elif when is not None and hasattr(when, "timestamp"):
        fields["due"] = when.timestamp()
    buffer_for(app).add(TaskEvent(EventKind.RETRIED, request.id, sender.name, at, fields))


def _on_shutdown(**_: Any) -> None:
    flush_all()


def connect_signals() -> None:
    """Connect the recording receivers to Celery's signals (idempotent: dispatch uids)."""
    signals.before_task_publish.connect(
        _on_publish, weak=False, dispatch_uid="stalwart.history.sent"
    )
    signals.task_received.connect(
        _on_received, weak=False, dispatch_uid="stalwart.history.received"
    )
    signals.task_revoked.connect(_on_revoked, weak=False, dispatch_uid="stalwart.history.revoked")
    signals.task_success.connect(_on_success, weak=False, dispatch_uid="stalwart.history.succeeded")
    signals.task_failure.connect(_on_failure, weak=False, dispatch_uid="stalwart.history.failed")
    signals.task_retry.connect(_on_retry, weak=False, dispatch_uid="stalwart.history.retried")
    signals.worker_process_shutdown.connect(
        _on_shutdown, weak=False, dispatch_uid="stalwart.history.child"
    )
    signals.worker_shutdown.connect(_on_shutdown, weak=False, dispatch_uid="stalwart.history.main")
