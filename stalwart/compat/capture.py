"""What publishing a message would send, recorded instead of sent.

The delay store (:mod:`stalwart.delays`) keeps a waiting message as exactly what would
publish it, so that when it is due it is published as if it had been sent then:

- **Redis broker**: the Redis commands kombu would send (``lpush`` to the list of the
  message's priority, ``pexpire`` for a queue with ``x-expires``), recorded through
  kombu's publish-batch seam (``Producer.batch()``, kombu 5.7): the private channel's
  :meth:`create_publish_batch` hands kombu a :class:`CommandRecorder`, and kombu's own
  ``_put`` adds the commands to it. The pump runs them atomically in Redis.
- **Other brokers (AMQP)**: the arguments Celery's ``send_task_message`` gives
  ``Producer.publish`` (body, routing, headers, properties), recorded by a
  :class:`PublishRecorder` standing in for the producer; the pump publishes them with
  a real producer (and publisher confirms) when due.

Nothing reaches the broker while recording.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

__all__ = [
    "CaptureError",
    "CommandRecorder",
    "EnvelopeCapture",
    "PublishRecorder",
    "is_recording",
    "republish_recorded",
]

RECORDABLE = frozenset({"lpush", "pexpire"})

Publish = Callable[[Any], Any]  # publishes one message through the producer it is given


class CaptureError(RuntimeError):
    """The message cannot be captured (e.g. a fanout exchange); publish it normally."""


class CommandRecorder:
    """Stands in for kombu's ``PublishBatch``: keeps the final commands, sends nothing."""

    def __init__(self, channel: Any) -> None:
        self.channel = channel
        self.commands: list[list[Any]] = []

    def publish(self, message: Any, **kwargs: Any) -> Any:
        return self.channel.basic_publish(message, _publish_batch=self, **kwargs)

    def add(self, name: str, *args: Any) -> None:
        if name not in RECORDABLE:
            raise CaptureError(
                f"a publish that sends {name.upper()} cannot wait in the delay store"
            )
        self.commands.append([name, *args])

    def flush(self) -> None:
        """Nothing to send: the commands are the result."""

    def discard(self) -> None:
        self.commands.clear()

    def close(self) -> None:
        """Nothing to release."""


class _NoConnection:
    """What ``Celery.send_task`` asks of ``producer.connection`` (Celery 5.7)."""

    def _reraise_as_library_errors(self) -> AbstractContextManager[None]:
        return nullcontext()


class PublishRecorder:
    """Stands in for a kombu ``Producer``: keeps what ``publish`` was asked to send."""

    recording = True

    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []
        self.connection = _NoConnection()

    def publish(self, body: Any, **kwargs: Any) -> None:
        exchange = kwargs.pop("exchange", "")
        declare = kwargs.pop("declare", None) or []
        for dropped in ("retry", "retry_policy", "timeout", "confirm_timeout"):
            kwargs.pop(dropped, None)
        self.published.append(
            {
                "body": body,
                "exchange": getattr(exchange, "name", exchange) or "",
                "declare": [getattr(queue, "name", str(queue)) for queue in declare],
                **kwargs,
            }
        )


def is_recording(producer: Any) -> bool:
    """True for a producer that records instead of publishing (no publish phases run)."""
    if getattr(producer, "recording", False):
        return True
    return getattr(getattr(producer, "channel", None), "recorder", None) is not None


@contextmanager
def recording(channel: Any) -> Iterator[CommandRecorder]:
    """Make ``channel``'s next publish batch a :class:`CommandRecorder` (see the Channel)."""
    recorder = CommandRecorder(channel)
    channel.recorder = recorder
    try:
        yield recorder
    finally:
        channel.recorder = None


class EnvelopeCapture:
    """Records what a publish would send, as the text the delay store keeps."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._local = threading.local()

    def capture(self, publish: Publish) -> str:
        """Run ``publish(producer)`` against a recorder; returns the recorded text."""
        if not self.app.settings.broker_is_redis:
            recorder = PublishRecorder()
            publish(recorder)
            if len(recorder.published) != 1:
                raise CaptureError("the publish did not produce exactly one message")
            return json.dumps({"publish": recorder.published[0]})
        producer = self._producer()
        with recording(producer.channel) as commands, producer.batch():
            publish(producer)
        if not commands.commands or commands.commands[0][0] != "lpush":
            raise CaptureError("the publish produced no Redis list entry")
        return json.dumps(commands.commands)

    def _producer(self) -> Any:
        local = self._local
        if getattr(local, "pid", None) != os.getpid():
            connection = self.app.connection_for_write()
            channel = connection.channel()
            if not hasattr(channel, "recorder"):
                raise CaptureError("the broker is not Redis: nothing to capture")
            local.connection = connection
            local.producer = self.app.amqp.Producer(channel, auto_declare=False)
            local.pid = os.getpid()
        return local.producer


def republish_recorded(app: Any, recorded: dict[str, Any]) -> None:
    """Publish what a :class:`PublishRecorder` kept, now, through a real producer."""
    publish = dict(recorded["publish"])
    body = publish.pop("body")
    declare = [app.amqp.queues[name] for name in publish.pop("declare") if name in app.amqp.queues]
    with app.producer_or_acquire() as producer:
        producer.publish(body, declare=declare, retry=True, **publish)
