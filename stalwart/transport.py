"""kombu's Redis transport, minus one avoidable cost: a new client object on every call.

kombu's Redis channel builds a fresh ``redis.Redis`` around its connection pool for
every command it sends outside the consumer loop (the unacked-copy write, the ack,
publishing): ~7% of a Stalwart worker's busy time in a profile of a no-op drain
(``py-spy record`` of ``celery worker --pool solo``, see docs/PERFORMANCE.md). The
client is a thin, thread-safe wrapper over the pool, so one per channel is enough.

:class:`stalwart.Stalwart` installs this transport on the connections it opens to a
Redis broker; the wire protocol, keys and message format are kombu's, unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kombu.transport import redis as kombu_redis

__all__ = ["REDIS_TRANSPORTS", "Channel", "Transport"]

REDIS_TRANSPORTS = ("redis", "rediss")


class Channel(kombu_redis.Channel):
    """A kombu Redis channel that reuses one synchronous client."""

    _sync_client: Any = None

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
