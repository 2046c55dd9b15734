"""Celery's ``app.amqp``, with Stalwart's connection class and publish phases.

Written against Celery 5.7 (``celery.app.amqp.AMQP``: its ``Connection`` attribute
and ``_create_task_sender``) and kombu 5.7 (``Connection.get_transport_cls``).
``Stalwart(...)`` passes this class as Celery's ``amqp=`` argument, the extension point
Celery offers for it:

- :class:`Connection` runs :class:`stalwart.compat.transport.Transport` for Redis
  brokers while ``transport_cls`` stays what the URL says (``"redis"``), so
  ``Connection.info()``, ``as_uri()``, ``celery inspect stats``, Flower and the worker
  banner see a Redis broker.
- Every task message the app sends (``apply_async``, ``send_task``, signatures,
  retries, chord callbacks) goes through ``send_task_message``; here it goes through
  the app's publish phases first (:mod:`stalwart.middleware.publishing`), which may add
  headers, refuse the message, or learn that it was not published.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from celery.app.amqp import AMQP as CeleryAMQP
from kombu.connection import Connection as KombuConnection
from kombu.transport import redis as kombu_redis

from stalwart.compat.transport import Transport

__all__ = ["AMQP", "Connection", "TaskMessage"]

# celery.app.amqp.task_message: (headers, properties, body, sent_event)
TaskMessage = Any


class Connection(KombuConnection):
    """A kombu connection that runs Stalwart's :class:`Transport` for Redis brokers."""

    def get_transport_cls(self) -> Any:
        transport_cls = super().get_transport_cls()  # type: ignore[no-untyped-call]
        return Transport if transport_cls is kombu_redis.Transport else transport_cls


class AMQP(CeleryAMQP):  # type: ignore[misc]
    """Celery's ``app.amqp`` with :class:`Connection` and the app's publish phases."""

    Connection = Connection
    BrokerConnection = Connection

    def _create_task_sender(self) -> Callable[..., Any]:
        celery_send = super()._create_task_sender()
        publisher = getattr(self.app, "publisher", None)
        if publisher is None:  # not a Stalwart app
            return celery_send  # type: ignore[no-any-return]

        def send_task_message(
            producer: Any, name: str, message: TaskMessage, **options: Any
        ) -> Any:
            return publisher.publish(celery_send, producer, name, message, options)

        return send_task_message
