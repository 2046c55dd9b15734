"""Celery's Redis result backend, carrying the pipeline's riders in its state writes,
and recording the tasks Celery fails there without running them.

Written against Celery 5.7:

- ``celery.backends.redis.RedisBackend.set``, ``_MAX_STR_VALUE_SIZE`` and
  ``on_task_call`` (skipped by bulk publishing), and the
  ``track_started`` rule of ``celery.app.trace``: see :mod:`stalwart.middleware.riders`
  for what rides and why;
- ``celery.backends.base.Backend.chord_error_from_stack``: when a chord's member fails
  (or its callback cannot be sent), Celery writes FAILURE for the callback straight to
  the result backend (``fail_from_current_stack``), for each task of a group callback,
  and for the tasks chained after it (``_fail_chain``). Those tasks never run, so no
  signal or middleware sees them; :meth:`RedisBackend.chord_error_from_stack` records a
  ``failed`` event for each, with the cause, so history and ``stalwart tasks show``
  know what became of them.
"""

from __future__ import annotations

import logging
import sys
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis
from celery import current_task
from celery.app.task import get_actual_ignore_result
from celery.backends.redis import RedisBackend as CeleryRedisBackend
from celery.exceptions import BackendStoreError

from stalwart.middleware.riders import Rider, deliver, pending, take_pending

__all__ = [
    "RedisBackend",
    "ignores_result",
    "is_celery_redis_backend",
    "no_result_subscriptions",
    "started_write_follows",
]

_local = threading.local()


@contextmanager
def no_result_subscriptions() -> Iterator[None]:
    """In this block, publishing does not SUBSCRIBE to each task's result channel.

    Celery's Redis backend subscribes at every ``send_task`` (``on_task_call``): a round
    trip per message, only to make a later ``.get()`` a little faster. ``.get()`` works
    without it (it subscribes and then reads the stored state, so nothing is missed);
    bulk publishing skips it.
    """
    _local.quiet = True
    try:
        yield
    finally:
        _local.quiet = False


log = logging.getLogger("stalwart.history")


def is_celery_redis_backend(backend_cls: type) -> bool:
    """True for Celery's own Redis result backend class (the one Stalwart replaces)."""
    return backend_cls is CeleryRedisBackend


def ignores_result(task: Any, request: Any) -> bool:
    """True if Celery stores no state for ``task``'s ``request`` (``ignore_result``)."""
    return bool(get_actual_ignore_result(task, request))


def started_write_follows(task: Any) -> bool:
    """True if Celery writes ``STARTED`` for ``task``'s current request (at prerun).

    The rule of ``celery.app.trace.build_tracer``: not eager, ``track_started``, result
    not ignored.
    """
    request = task.request
    if request.is_eager or not task.track_started:
        return False
    return not get_actual_ignore_result(task, request)


def _address(client: redis.Redis) -> tuple[Any, ...]:
    """Where ``client`` connects: (host, port, unix socket path, database number)."""
    kwargs = client.connection_pool.connection_kwargs
    return (kwargs.get("host"), kwargs.get("port"), kwargs.get("path"), int(kwargs.get("db") or 0))


class RedisBackend(CeleryRedisBackend):  # type: ignore[misc]
    """Celery's Redis result backend; a state write also sends the thread's riders, and
    a chord's failure is recorded in history for the tasks it fails."""

    def chord_error_from_stack(self, callback: Any, exc: BaseException | None = None) -> Any:
        if exc is None:
            exc = sys.exc_info()[1]
        failed = super().chord_error_from_stack(callback, exc)
        try:
            _record_chord_failure(self.app, callback, exc)
        except Exception:  # history must not break Celery's chord handling
            log.exception("could not record the chord failure of %r", callback)
        return failed

    def shares_server_with(self, client: redis.Redis) -> bool:
        """True if ``client`` talks to the same Redis server and database (asked per
        task: the answer is kept per client)."""
        known: weakref.WeakKeyDictionary[redis.Redis, bool]
        known = self.__dict__.setdefault("_stalwart_shares", weakref.WeakKeyDictionary())
        shares = known.get(client)
        if shares is None:
            shares = known[client] = _address(self.client) == _address(client)
        return shares

    def on_task_call(self, producer: Any, task_id: str) -> Any:
        if getattr(_local, "quiet", False):
            return None
        return super().on_task_call(producer, task_id)

    def set(self, key: Any, value: Any, expires: Any = None, **retry_policy: Any) -> Any:
        if not pending():
            return super().set(key, value, expires, **retry_policy)
        if isinstance(value, str) and len(value) > self._MAX_STR_VALUE_SIZE:
            raise BackendStoreError("value too large for Redis backend")
        riders = take_pending()
        # ensure() retries the whole pipeline on a connection error. Riders are
        # idempotent or err on the side of admitting less (a flow check repeated after
        # a lost reply can count one extra unit, as its own round trip could).
        return self.ensure(self._set_with_riders, (key, value, expires, riders), **retry_policy)

    def _set_with_riders(self, key: Any, value: Any, expires: Any, riders: list[Rider]) -> None:
        if expires is None:
            expires = self.expires
        with self.client.pipeline() as pipe:
            if expires:
                pipe.set(key, value, ex=expires)
            else:
                pipe.set(key, value)
            pipe.publish(key, value)
            for rider in riders:
                rider.queue(pipe)
            replies = pipe.execute(raise_on_error=False)
        for reply in replies[:2]:
            if isinstance(reply, Exception):
                raise reply  # the state write itself failed
        deliver(riders, replies[2:])


def _tasks_of(signature: Any) -> list[Any]:
    """The task signatures in ``signature``: itself, or those of a group or chain body
    (Celery fails a chain body under its own id, the last task's; the tasks before it
    never run either)."""
    if getattr(signature, "subtask_type", None) in ("group", "chain"):
        return [task for inner in signature.tasks for task in _tasks_of(inner)]
    return [signature]


def _failed_unrun(callback: Any) -> list[tuple[str, str]]:
    """(task id, name) of the tasks a chord error fails without running them: the
    callback (each task of a group or chain callback) and the tasks chained after it."""
    found = [(sig.id, sig.task) for sig in _tasks_of(callback)]
    for link in callback.options.get("chain") or ():
        options = link.get("options") or {}
        found.append((options.get("task_id"), link.get("task")))
    return [(str(task_id), str(name or "")) for task_id, name in found if task_id]


def _record_chord_failure(app: Any, callback: Any, exc: BaseException | None) -> None:
    from stalwart.events import EventKind, TaskEvent
    from stalwart.history.signals import recording_app
    from stalwart.middleware.recording import family
    from stalwart.redaction import clip

    recording = recording_app(app)
    if recording is None:
        return
    running = current_task.request if current_task else None  # the member that ended it
    cause = f"{type(exc).__name__}: {exc}" if exc is not None else "ChordError"
    for task_id, name in _failed_unrun(callback):
        fields = {
            "worker": getattr(running, "hostname", None),
            "exception": clip(cause, 1000),
            "cause": "a member of its chord failed: it never ran",
            **family(getattr(running, "root_id", None), None, {}),
        }
        chord_group = getattr(running, "group", None)
        if chord_group:
            fields["chord_group"] = str(chord_group)
        recording.task_events.add(TaskEvent(EventKind.FAILED, task_id, name, fields=fields))
