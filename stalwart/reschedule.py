"""Put the running task's message back, to run later.

Used for retries (a retry is consumed) and for deferrals (none is). The same task id,
arguments, links and headers are kept, so the task's history is one timeline.

Where the message waits depends on how long: up to ``STALWART_DEFER_THRESHOLD``
seconds (default 30) it rides on Celery's countdown (a broker ETA the worker holds
for a moment); longer, it goes to the durable schedule (a Redis sorted set, see
:mod:`stalwart.flow.durable`) and the pump moves it into its queue when due, so no
broker ETA outlives a visibility timeout and no worker holds it in memory.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any, NoReturn

from celery.exceptions import Ignore

from stalwart.events import EventKind, TaskEvent, append_event
from stalwart.hooks import Deferred

if TYPE_CHECKING:
    from stalwart.task import StalwartTask

__all__ = ["defer_current", "republish"]


def republish(
    task: StalwartTask,
    *,
    countdown: float,
    retries: int,
    headers: dict[str, Any] | None = None,
    event: TaskEvent | None = None,
) -> None:
    """Publish the current request again, due in ``countdown`` seconds.

    ``event`` (optional) is appended to the event stream in the same round trip as
    the schedule write when the delay goes to the durable schedule.
    """
    from stalwart.flow.durable import schedule_for

    request = task.request
    countdown = max(0.0, countdown)
    options: dict[str, Any] = {"retries": retries}
    if headers:
        options["headers"] = {**(request.headers or {}), **headers}
    app = task.app
    if countdown > app.settings.defer_threshold:
        signature = task.signature_from_request(request, request.args, request.kwargs, **options)
        schedule_for(app).add(signature, countdown, event)
        return
    options["countdown"] = countdown
    signature = task.signature_from_request(request, request.args, request.kwargs, **options)
    signature.apply_async()
    if event is not None:
        append_event(app.redis, event, app.settings.stream_maxlen)


def defer_current(task: StalwartTask, *, countdown: float, reason: str | None = None) -> NoReturn:
    """Reschedule the current request with its retry count unchanged, then end it.

    Records a ``deferred`` event (reason, until). Called while handling a
    :class:`~stalwart.hooks.Deferred`, the reason defaults to that deferral's.
    """
    if reason is None:
        handled = sys.exc_info()[1]
        reason = handled.reason if isinstance(handled, Deferred) else "deferred"
    countdown = max(0.0, countdown)
    event = TaskEvent(
        EventKind.DEFERRED,
        str(task.request.id),
        str(task.name),
        fields={"reason": reason, "until": time.time() + countdown},
    )
    republish(task, countdown=countdown, retries=task.request.retries or 0, event=event)
    raise Ignore()
