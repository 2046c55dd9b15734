"""kombu's Redis transport with two changes: one client per channel, and no message
lost between the pop and its unacknowledged copy.

*One client per channel.* kombu's Redis channel builds a fresh ``redis.Redis`` around
its connection pool for every command it sends outside the consumer loop (the
unacked-copy write, the ack, publishing): ~7% of a Stalwart worker's busy time in a
profile of a no-op drain (``py-spy record`` of ``celery worker --pool solo``, see
docs/PERFORMANCE.md). The client is a thin, thread-safe wrapper over the pool, so one
per channel is enough.

*Stranded messages.* kombu takes a message off its queue with ``BRPOP`` and then, in a
second round trip, writes its unacknowledged copy (``unacked`` hash). If the broker
goes away between the two — a restart, a failover, a dropped connection — the message
exists only in the worker's memory, and kombu drops it with the failed connection
(``tests/reliability/test_broker_restart.py`` lost 1 task in 520 this way). Here the
channel keeps such a message in the process, and the next channel it opens (the
worker reconnects) puts it back on its queue unless its unacknowledged copy did reach
the broker (then the visibility timeout restores it, as for any unacknowledged
message). Only a worker killed inside that window, a few microseconds, can still lose
it.

:class:`stalwart.Stalwart` installs this transport on the connections it opens to a
Redis broker; the wire protocol, keys and message format are kombu's, unchanged.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from kombu.transport import redis as kombu_redis

__all__ = ["REDIS_TRANSPORTS", "Channel", "QoS", "Transport"]

REDIS_TRANSPORTS = ("redis", "rediss")

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Stranded:
    """A message taken off its queue whose unacknowledged copy may not exist."""

    payload: dict[str, Any]
    exchange: str
    routing_key: str
    delivery_tag: str


class _StrandedMessages:
    """The process's stranded messages, waiting for a working connection."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: list[_Stranded] = []

    def keep(self, message: _Stranded) -> None:
        with self._lock:
            self._messages.append(message)
        logger.warning(
            "broker connection lost while recording message %s as unacknowledged; "
            "it will be put back on its queue when the connection returns",
            message.delivery_tag,
        )

    def restore(self, channel: Channel) -> None:
        """Put every stranded message back on its queue through ``channel``."""
        with self._lock:
            pending, self._messages = self._messages, []
        for index, message in enumerate(pending):
            try:
                _restore_one(channel, message)
            except channel.connection_errors:
                with self._lock:
                    self._messages[:0] = pending[index:]
                return
        if pending:
            logger.warning("put %d stranded message(s) back on their queues", len(pending))


def _restore_one(channel: Channel, message: _Stranded) -> None:
    def transaction(pipe: Any) -> None:
        recorded = pipe.hexists(channel.unacked_key, message.delivery_tag)
        pipe.multi()
        if not recorded:
            channel._do_restore_message(
                message.payload, message.exchange, message.routing_key, pipe
            )  # type: ignore[no-untyped-call]

    with channel.conn_or_acquire() as client:
        client.transaction(transaction, channel.unacked_key)


STRANDED = _StrandedMessages()


class QoS(kombu_redis.QoS):
    """kombu's ack emulation, keeping a message whose unacked copy could not be written."""

    def append(self, message: Any, delivery_tag: str) -> None:
        try:
            super().append(message, delivery_tag)  # type: ignore[no-untyped-call]
        except self.channel.connection_errors:
            delivery = message.delivery_info
            STRANDED.keep(
                _Stranded(message._raw, delivery["exchange"], delivery["routing_key"], delivery_tag)
            )
            raise


class Channel(kombu_redis.Channel):
    """A kombu Redis channel that reuses one synchronous client and restores stranded messages."""

    QoS = QoS
    _sync_client: Any = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[no-untyped-call]  # connects or raises
        STRANDED.restore(self)

    @contextmanager
    def conn_or_acquire(self, client: Any = None) -> Iterator[Any]:
        if client:
            yield client
            return
        if self._sync_client is None:
            self._sync_client = self._create_client()  # type: ignore[no-untyped-call]
        yield self._sync_client

    def _disconnect_pools(self) -> None:
        self._sync_client = None  # it wraps the pool being dropped (fork, close)
        super()._disconnect_pools()  # type: ignore[no-untyped-call]


class Transport(kombu_redis.Transport):
    Channel = Channel
