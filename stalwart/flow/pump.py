"""The pump: moves due messages from the durable schedule into their queues.

A :class:`~stalwart.services.Service` run by every worker, beat and console process
(no extra process is needed). Every tick is one atomic script call, so any number of
pumps can run at once: a message is moved by exactly one of them (Redis broker), or
published at least once (AMQP; see :mod:`stalwart.flow.durable`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from kombu.utils.json import loads

from stalwart.coordination import as_text
from stalwart.flow.durable import INFLIGHT_KEY, PUBLISH_KEY, SCHEDULE_KEY, schedule_for
from stalwart.flow.scripts import script
from stalwart.services import Service

if TYPE_CHECKING:
    from stalwart.app import Stalwart

__all__ = ["Pump"]

log = logging.getLogger("stalwart.flow.pump")

BATCH = 500
# A claimed AMQP publish not confirmed within this long is published again.
CLAIM_LEASE = 60.0


class Pump(Service):
    """Moves due deferred and retried messages into their queues."""

    name = "pump"
    interval = 0.25

    def __init__(self, app: Stalwart) -> None:
        self.app = app

    def tick(self) -> None:
        self.move_due()

    def move_due(self) -> int:
        """Move everything due now; returns how many messages were moved."""
        schedule = schedule_for(self.app)
        if schedule.moves_lists:
            return self._move_lists(schedule.broker_client)
        return self._publish_due()

    def _move_lists(self, client: object) -> int:
        move = script(client, "move_due")  # type: ignore[arg-type]
        total = 0
        while True:
            moved = int(move(keys=[SCHEDULE_KEY], args=[BATCH]))
            total += moved
            if moved < BATCH:
                return total

    def _publish_due(self) -> int:
        client = self.app.redis
        claim = script(client, "claim_due")
        total = 0
        while True:
            members = claim(keys=[PUBLISH_KEY, INFLIGHT_KEY], args=[BATCH, CLAIM_LEASE])
            done = []
            for member in members:
                text = as_text(member)
                try:
                    data = loads(text[1:])  # type: ignore[no-untyped-call]
                    self.app.signature(data["sig"]).apply_async()
                except Exception:
                    # Left claimed: it goes back to the schedule when the lease ends.
                    log.exception("publishing a due message failed; retrying after the lease")
                    continue
                done.append(member)
            if done:
                client.zrem(INFLIGHT_KEY, *done)
            total += len(done)
            if len(members) < BATCH:
                return total
