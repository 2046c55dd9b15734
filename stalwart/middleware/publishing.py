"""The producer side of the pipeline: ``before_publish`` / ``after_publish`` /
``publish_failed`` around every task message an app sends.

:class:`stalwart.compat.amqp.AMQP` hands each message to :meth:`Publisher.publish`
just before Celery's own ``send_task_message`` (so after routing options and the task
id are known, before anything reaches the broker). A ``before_publish`` that raises
refuses the message: the middleware that had already run get ``publish_failed``, and
the caller sees the exception. A middleware may also take the message over (the delay
store keeps a long countdown) by raising :class:`Diverted`: the broker then receives
nothing now and the caller still gets its ``AsyncResult``.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from celery import current_task

from stalwart.compat.capture import is_recording
from stalwart.middleware.base import Middleware
from stalwart.middleware.call import Publication
from stalwart.middleware.pipeline import Pipeline

if TYPE_CHECKING:
    from stalwart.app import Stalwart

__all__ = ["Diverted", "Publisher"]

log = logging.getLogger("stalwart.middleware")

PHASES = ("before_publish", "after_publish", "publish_failed")


class Diverted(Exception):
    """Raised by ``before_publish``: the middleware published the message its own way."""


class Publisher:
    """Runs one app's publish phases around Celery's ``send_task_message``."""

    def __init__(self, app: Stalwart, pipeline: Pipeline) -> None:
        self.app = app
        self.pipeline = pipeline
        self._version = -1
        self._phases: dict[str, list[Middleware]] = {}
        self._local = threading.local()

    def phases(self) -> dict[str, list[Middleware]]:
        if self._version != self.pipeline.version:
            middleware = list(self.pipeline)
            self._phases = {
                phase: [
                    mw
                    for mw in middleware
                    if getattr(type(mw), phase) is not getattr(Middleware, phase)
                ]
                for phase in PHASES
            }
            self._version = self.pipeline.version
        return self._phases

    def publication(self, name: str, message: Any, options: dict[str, Any]) -> Publication:
        headers, _properties, body, _sent_event = message
        if options.get("headers"):
            headers.update(options["headers"])  # Celery merges them the same way
        args, kwargs = _body_arguments(body)
        task = self.app.tasks.get(name)
        running = current_task._get_current_object() if current_task else None
        task_id = str(headers.get("id"))
        return Publication(
            app=self.app,
            name=name,
            id=task_id,
            args=tuple(args or ()),
            kwargs=dict(kwargs or {}),
            headers=headers,
            routing_key=_queue_name(self.app, options),
            task=task if hasattr(task, "stalwart_options") else None,
            republished=running is not None and running.request.id == task_id,
        )

    def publish(
        self,
        send: Callable[..., Any],
        producer: Any,
        name: str,
        message: Any,
        options: dict[str, Any],
    ) -> Any:
        phases = self.phases()
        if is_recording(producer) or not any(phases.values()):
            # A capture for the delay store (stalwart.compat.capture) publishes nothing:
            # the publication it belongs to runs the phases.
            return send(producer, name, message, **options)
        publication = self.publication(name, message, options)
        publication.capture = functools.partial(
            self.app.delays.capture, lambda recorder: send(recorder, name, message, **options)
        )
        entered: list[Middleware] = []
        result: Any = None
        try:
            try:
                for mw in phases["before_publish"]:
                    mw.before_publish(publication)
                    entered.append(mw)
                result = send(producer, name, message, **options)
            except Diverted:
                pass
        except BaseException as exc:
            self._failed(publication, entered, exc)
            raise
        deferred: list[tuple[Publication, list[Middleware]]] | None = getattr(
            self._local, "deferred", None
        )
        if deferred is not None:
            deferred.append((publication, entered))  # settled when the batch is sent
        else:
            self._after(publication)
        return result

    @contextmanager
    def deferring(self) -> Iterator[None]:
        """Publishes in this block are settled at its end: ``after_publish`` if it ends
        normally (the producer's batch was sent), ``publish_failed`` if it raises."""
        deferred: list[tuple[Publication, list[Middleware]]] = []
        self._local.deferred = deferred
        try:
            yield
        except BaseException as exc:
            for publication, entered in deferred:
                self._failed(publication, entered, exc)
            raise
        finally:
            self._local.deferred = None
        for publication, _ in deferred:
            self._after(publication)

    def _after(self, publication: Publication) -> None:
        for mw in self.phases()["after_publish"]:
            try:
                mw.after_publish(publication)
            except Exception:
                _log_failure(mw, "after_publish", publication)

    def _failed(
        self, publication: Publication, entered: list[Middleware], exc: BaseException
    ) -> None:
        for mw in reversed(entered):
            if mw in self.phases()["publish_failed"]:
                try:
                    mw.publish_failed(publication, exc)
                except Exception:
                    _log_failure(mw, "publish_failed", publication)


def _log_failure(mw: Middleware, phase: str, publication: Publication) -> None:
    log.exception(
        "middleware %s failed in %s of %s[%s]", mw.name, phase, publication.name, publication.id
    )


def _body_arguments(body: Any) -> tuple[Any, Any]:
    if isinstance(body, list | tuple) and len(body) >= 2:
        return body[0], body[1]
    if isinstance(body, dict):  # protocol 1
        return body.get("args"), body.get("kwargs")
    return (), {}


def _queue_name(app: Stalwart, options: dict[str, Any]) -> str | None:
    queue = options.get("queue")
    if queue is None and options.get("exchange") is None:
        return str(app.amqp.default_queue.name)
    if isinstance(queue, str):
        return queue
    name = getattr(queue, "name", None)
    return str(name) if name else options.get("routing_key")
