"""Build the exact Redis list entry kombu would push for a message, without pushing it.

The durable schedule stores, for each waiting message, the list key and the kombu
envelope (JSON) that kombu's Redis transport would ``LPUSH`` when the message is
published: so the pump moves it into its queue with one atomic Lua script, and the
worker consumes it like any other message. To get them exactly right, including
routing, the priority list (``celery\\x06\\x169``) and Celery's own headers, the
message goes through Celery's normal publish path (``apply_async`` with a producer on
a private channel of this module) and the channel's final ``_put`` records instead of
pushing: the same calls ``kombu.transport.redis.Channel._put`` makes
(``_get_message_priority`` then ``_q_for_pri``, ``dumps``).
"""

from __future__ import annotations

import os
import threading
from typing import Any

from kombu.utils.json import dumps

__all__ = ["CaptureError", "EnvelopeCapture"]


class CaptureError(RuntimeError):
    """The message cannot be captured (e.g. a fanout exchange); publish it normally."""


class EnvelopeCapture:
    """Turns a Celery signature into ``[(list key, envelope)]`` for the Redis broker."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._local = threading.local()

    def capture(self, signature: Any, **options: Any) -> list[tuple[str, str]]:
        """Publish ``signature`` into a recorder; returns where it would have gone."""
        producer, captured = self._producer()
        captured.clear()
        signature.apply_async(producer=producer, **options)
        if not captured:
            raise CaptureError(f"publishing {signature.task!r} produced no Redis list entry")
        return list(captured)

    def _producer(self) -> tuple[Any, list[tuple[str, str]]]:
        local = self._local
        if getattr(local, "pid", None) != os.getpid():
            connection = self.app.connection_for_write()
            channel = connection.channel()
            captured: list[tuple[str, str]] = []
            prefix = getattr(channel, "global_keyprefix", "") or ""

            def record(queue: str, message: dict[str, Any], **_: Any) -> None:
                priority = channel._get_message_priority(message, reverse=False)
                envelope = str(dumps(message))  # type: ignore[no-untyped-call]
                captured.append((prefix + channel._q_for_pri(queue, priority), envelope))

            def refuse(*_: Any, **__: Any) -> None:
                raise CaptureError("fanout exchanges cannot go on the durable schedule")

            # Instance attributes: only this private channel records instead of pushing.
            channel._put = record
            channel._put_fanout = refuse
            local.connection = connection
            local.producer = self.app.amqp.Producer(channel, auto_declare=False)
            local.captured = captured
            local.pid = os.getpid()
        return local.producer, local.captured
