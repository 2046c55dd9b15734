"""A worker started before its broker waits for it, instead of exiting.

In a container the broker and the worker often start together; a worker that exits
when the broker is not up yet is restarted by the orchestrator, fails again, and ends
in a crash loop with back-off. So a Stalwart worker waits: one log line per attempt
(what it waits for, why it failed, when it tries again), back-off from 1 s up to
:data:`MAX_INTERVAL`, and no heartbeat meanwhile (``stalwart health`` and ``/readyz``
say it is not ready). A stop signal (SIGTERM, Ctrl-C) ends the wait. Once the broker
answers, the worker starts its services and consumes.

kombu's own retry loop does the waiting (``Connection.ensure_connection``), as it does
for Celery's consumer; this only chooses the intervals and the words.
"""

from __future__ import annotations

import logging
from typing import Any

from kombu.utils.url import maybe_sanitize_url

from stalwart.compat.worker import stop_if_asked

__all__ = ["MAX_INTERVAL", "wait_for_broker"]

log = logging.getLogger("stalwart.worker")

FIRST_INTERVAL = 1.0
MAX_INTERVAL = 5.0


def wait_for_broker(app: Any) -> None:
    """Return once ``app``'s broker accepts a connection, logging each failed attempt."""
    attempts = 0

    with app.connection_for_read() as connection:
        where = maybe_sanitize_url(connection.as_uri(include_password=True))

        def waiting(exc: BaseException, interval: float) -> None:
            nonlocal attempts
            attempts += 1
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            log.warning(
                "waiting for the broker at %s (attempt %d): %s; trying again in %.0f s",
                where,
                attempts,
                reason,
                interval,
            )

        connection.ensure_connection(
            errback=waiting,
            max_retries=None,
            interval_start=FIRST_INTERVAL,
            interval_step=FIRST_INTERVAL,
            interval_max=MAX_INTERVAL,
            callback=stop_if_asked,
        )
    if attempts:
        log.warning("the broker at %s answers after %d failed attempt(s)", where, attempts)
