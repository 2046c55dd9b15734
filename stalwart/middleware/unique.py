"""The producer side of ``unique=True``: claim the lock when the message is published.

A second identical send while the first is queued or running is marked as a duplicate
of the first in its headers (``stalwart_duplicate_of``) and ends without running; the
worker side of the option is :class:`stalwart.limits.unique.UniqueLimit`. If the
message is not published after all (the broker refused it, an argument is not JSON),
the lock is given back at once instead of blocking those arguments for a day.
"""

from __future__ import annotations

import logging

import redis

from stalwart.limits.unique import (
    DUPLICATE_HEADER,
    UNIQUE,
    claim_on_publish,
    release,
    unique_digest,
)
from stalwart.middleware.base import Middleware
from stalwart.middleware.call import Publication

__all__ = ["Unique"]

log = logging.getLogger("stalwart.limits")

_CLAIMED = "unique.claimed"


class Unique(Middleware):
    """Claims a unique task's lock at publish time; releases it if the publish fails."""

    name = "unique"
    eager = False

    def before_publish(self, message: Publication) -> None:
        options = message.options
        if options is None or not UNIQUE.of(options) or DUPLICATE_HEADER in message.headers:
            return
        lock = unique_digest(message.task, message.args, message.kwargs)
        try:
            owner = claim_on_publish(message.app.redis, lock, message.id)
        except redis.RedisError:
            # Publishing must not fail because of the lock; the worker checks again.
            log.warning(
                "unique claim for %s failed; the worker will check", message.name, exc_info=True
            )
            return
        if owner is not None:
            message.headers[DUPLICATE_HEADER] = owner
        elif not message.republished:
            message.state[_CLAIMED] = lock

    def publish_failed(self, message: Publication, exc: BaseException) -> None:
        lock = message.state.get(_CLAIMED)
        if lock is not None:
            release(message.app.redis, lock, message.id)
