"""The coordination store (Redis or Valkey): one client per process, and key names.

All of Stalwart's keys start with ``stalwart:`` so they can be told from Celery's and
from the application's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where a client is made: naming keys needs no client
    import redis

    from stalwart.settings import Settings

__all__ = ["KEY_PREFIX", "as_text", "connect", "key"]

KEY_PREFIX = "stalwart"


def key(*parts: object) -> str:
    """``key("workers", host)`` -> ``"stalwart:workers:host"``."""
    return ":".join((KEY_PREFIX, *(str(part) for part in parts)))


def as_text(value: object) -> str:
    """A Redis reply (bytes) as text."""
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode()
    return str(value)


def connect(settings: Settings) -> redis.Redis:
    """A client of the coordination store (thread-safe, fork-safe connection pool)."""
    import redis

    return redis.Redis.from_url(
        settings.effective_redis_url,
        socket_timeout=10,
        socket_connect_timeout=5,
        health_check_interval=25,
    )
