"""Messages whose kombu envelope cannot be read: checked at the transport, quarantined.

Written against kombu 5.7's Redis transport. A message on a queue is a JSON *envelope*
(``body``, ``properties`` with ``delivery_tag`` and ``delivery_info``, ``headers``...)
that ``Channel._brpop_read`` decodes and hands to the consumer, which builds a
``Message`` from it and records its unacknowledged copy (``QoS.append`` reads
``delivery_info['exchange']`` and ``['routing_key']``). Anything else on the list (not
UTF-8, not JSON, JSON that is not such an envelope) raises there, in the worker's event
loop: the worker exits, and exits again on every restart while the message is first in
line. One bad message stops a queue.

So the transport checks each envelope the way kombu will read it
(:func:`read_envelope`) before delivering it. One that fails is taken out of the way:
its raw bytes go, as an :class:`UndecodableMessage`, onto the Redis list
:data:`QUARANTINE_KEY` in the broker's Redis, and the worker carries on with the next
message. The transport knows no SQL: the app's
:class:`~stalwart.deadletter.quarantine.Quarantine` service writes each one to the
dead-letter store (reason ``undecodable``, raw bytes kept).

A body that *is* a valid envelope but whose task payload cannot be decoded (pickle, bad
JSON inside) is not this: Celery refuses and drops it itself, without stopping.
"""

from __future__ import annotations

import base64
import json
import logging
import socket
import time
import uuid
from dataclasses import dataclass
from typing import Any

from kombu.utils.encoding import bytes_to_str
from kombu.utils.json import loads

from stalwart.coordination import key

__all__ = ["QUARANTINE_KEY", "UndecodableMessage", "quarantine", "read_envelope"]

logger = logging.getLogger("stalwart.transport")

#: The Redis list (in the broker's Redis) of quarantined messages, newest first.
QUARANTINE_KEY = key("undecodable")
ID_PREFIX = "undecodable-"


@dataclass(frozen=True)
class UndecodableMessage:
    """One message the transport could not read, as it was on the queue."""

    id: str
    queue: str
    raw: bytes
    error_type: str
    error: str
    at: float
    host: str

    def encode(self) -> str:
        data = {**self.__dict__, "raw": base64.b64encode(self.raw).decode("ascii")}
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def decode(cls, text: bytes | str) -> UndecodableMessage:
        """Raises ``ValueError``/``KeyError``/``TypeError`` for a malformed entry."""
        data = json.loads(text)
        return cls(**{**data, "raw": base64.b64decode(data["raw"], validate=True)})


def read_envelope(channel: Any, item: bytes | str) -> Any:
    """The envelope kombu's consumer will read from ``item``, or raise ``ValueError``
    (or another exception of the decoding) if it cannot read it."""
    payload = loads(bytes_to_str(item))  # type: ignore[no-untyped-call]
    message = channel.Message(payload, channel=channel)  # what basic_consume builds
    info = message.delivery_info
    if not isinstance(message.delivery_tag, str) or not isinstance(info, dict):
        raise ValueError("properties need a delivery_tag string and a delivery_info object")
    if "exchange" not in info or "routing_key" not in info:
        raise ValueError("delivery_info needs exchange and routing_key")
    return payload


def quarantine(client: Any, item: bytes | str, queue: str, exc: BaseException) -> None:
    """Put ``item`` (taken off ``queue``) on the quarantine list; never raises."""
    raw = item if isinstance(item, bytes) else item.encode()
    kind = type(exc)
    message = UndecodableMessage(
        id=f"{ID_PREFIX}{uuid.uuid4()}",
        queue=queue,
        raw=raw,
        error_type=kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}",
        error=str(exc)[:2000],
        at=time.time(),
        host=socket.gethostname(),
    )
    try:
        client.lpush(QUARANTINE_KEY, message.encode())
    except Exception as push_error:
        logger.error(
            "undecodable message on queue %s dropped, it could not be quarantined (%s): %r",
            queue,
            push_error,
            raw[:500],
        )
        return
    logger.error(
        "undecodable message on queue %s (%d bytes, %s: %s): quarantined as %s; the "
        "dead-letter store will show it ('stalwart dlq show %s')",
        queue,
        len(raw),
        message.error_type,
        message.error[:200],
        message.id,
        message.id,
    )
