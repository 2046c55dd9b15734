"""Long delays never ride on broker ETAs, whoever asked for them.

A message whose ``eta`` (a caller's ``countdown=``/``eta=``, a retry, a deferral) is
more than ``STALWART_DEFER_THRESHOLD`` seconds away is taken over in ``before_publish``
and kept in the delay store (:mod:`stalwart.delays.store`) until it is due; the pump
then moves it into its queue. A Redis-broker ETA longer than the visibility timeout is
delivered again and again (kombu#337), and every waiting ETA sits in a worker's
memory; in the delay store it does neither, and it can be revoked or made due now by
task id. ``expires`` still applies (the message keeps its headers). Short delays keep
Celery's countdown (the worker holds them for a moment).
"""

from __future__ import annotations

from datetime import datetime

from stalwart.middleware.base import Middleware
from stalwart.middleware.call import Publication
from stalwart.middleware.publishing import Diverted

__all__ = ["Delays", "due_in"]


def due_in(message: Publication) -> float:
    """Seconds until the message's ``eta`` (0 when it has none or it has passed)."""
    eta = message.headers.get("eta")
    if not eta:
        return 0.0
    try:
        moment = datetime.fromisoformat(str(eta))
    except ValueError:
        return 0.0
    if moment.tzinfo is None:  # Celery writes naive UTC when timezone support is off
        from datetime import UTC

        moment = moment.replace(tzinfo=UTC)
    return max(0.0, moment.timestamp() - message.published_at)


class Delays(Middleware):
    """Diverts messages due later than the threshold into the delay store."""

    name = "delays"
    eager = False

    def before_publish(self, message: Publication) -> None:
        delay = due_in(message)
        if delay <= message.app.settings.defer_threshold or message.capture is None:
            return
        message.app.delays.keep(message.id, message.capture(), delay)
        message.delayed = delay
        raise Diverted()
