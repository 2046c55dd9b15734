"""Celery's worker ``Request``, so that a task cancelled by a lost broker connection runs
again instead of being acknowledged as revoked.

Written against Celery 5.7 (``celery.worker.request.Request._announce_cancelled`` and
``on_failure``). With ``worker_cancel_long_running_tasks_on_connection_loss`` (a
hardened default) the worker terminates the running tasks when the broker connection
drops, then ``_announce_cancelled`` writes their RETRY state and marks them cancelled.
When the result backend is the broker (Stalwart's default topology) that write fails
against the dead connection, the request is never marked cancelled, and the
terminated task is treated as revoked: acknowledged after the reconnect, its
unacknowledged copy deleted, never run (lost). Here the request is marked cancelled
first, a failing state write is only logged, and (Redis broker) its message is put back
on its queue as soon as the worker reconnects instead of after the visibility timeout.
"""

from __future__ import annotations

import logging

from celery.worker.request import Request as CeleryRequest

from stalwart.compat.transport import STRANDED

__all__ = ["Request"]

log = logging.getLogger("stalwart.reliability")


class Request(CeleryRequest):  # type: ignore[misc]
    """A worker request whose cancellation always leaves its message to run again."""

    def _announce_cancelled(self, emit_retry: bool = True) -> None:
        self._already_cancelled = True  # before anything that can fail: never "revoked"
        message = getattr(self, "_message", None)
        tag = getattr(message, "delivery_tag", None)
        if tag is not None and getattr(getattr(message, "channel", None), "qos", None) is not None:
            STRANDED.keep_cancelled(str(tag))
        try:
            super()._announce_cancelled(emit_retry=emit_retry)
        except Exception as exc:
            log.warning(
                "%s[%s] was cancelled when the broker connection was lost; its RETRY state "
                "could not be stored (%r): the message is left to run again",
                self.task_name,
                self.id,
                exc,
            )
