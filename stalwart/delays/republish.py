"""Put the running task's message back, to run later (a retry or a deferral).

The same task id, arguments, links and headers are kept, so the task's history is one
timeline. Where the message waits depends on how long: up to
``STALWART_DEFER_THRESHOLD`` seconds (default 30) it rides on Celery's countdown (a
broker ETA the worker holds for a moment); longer, the publish phase puts it in the
delay store (:mod:`stalwart.middleware.delays`), as for any caller's long countdown.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stalwart.task import StalwartTask

__all__ = ["republish"]


def republish(
    task: StalwartTask,
    *,
    countdown: float,
    retries: int,
    headers: dict[str, Any] | None = None,
) -> None:
    """Publish the current request again, due in ``countdown`` seconds.

    A countdown past ``STALWART_DEFER_THRESHOLD`` is taken over by the delay store in
    the publish phase (:mod:`stalwart.middleware.delays`), like any caller's.
    """
    request = task.request
    options: dict[str, Any] = {"retries": retries, "countdown": max(0.0, countdown)}
    if headers:
        options["headers"] = {**(request.headers or {}), **headers}
    task.signature_from_request(request, request.args, request.kwargs, **options).apply_async()
