"""The pump: moves due messages from the delay store into their queues.

A :class:`~stalwart.services.Service` run by every worker, beat and console process
(no extra process is needed). Every tick is one atomic script call, so any number of
pumps can run at once: a message is moved by exactly one of them (Redis broker), or
published at least once (AMQP; see :mod:`stalwart.delays.store`).
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

from stalwart.compat.capture import republish_recorded
from stalwart.coordination import as_text
from stalwart.delays.store import DUE_KEY, INFLIGHT_KEY, MESSAGES_KEY
from stalwart.lua import Lua
from stalwart.services import Service

if TYPE_CHECKING:
    from stalwart.app import Stalwart

__all__ = ["Pump"]

log = logging.getLogger("stalwart.delays")

BATCH = 500
# A claimed AMQP publish not confirmed within this long is published again.
CLAIM_LEASE = 60.0

_MOVE_DUE = Lua.packaged("stalwart.delays", "move_due")
_CLAIM_DUE = Lua.packaged("stalwart.delays", "claim_due")


class Pump(Service):
    """Moves due retried, deferred and delayed messages into their queues."""

    name = "pump"
    interval = 0.25

    def __init__(self, app: Stalwart) -> None:
        self.app = app

    def tick(self) -> None:
        self.move_due()

    def move_due(self) -> int:
        """Move everything due now; returns how many messages were moved."""
        store = self.app.delays
        if store.moves_lists:
            total = 0
            while True:
                moved = int(_MOVE_DUE.run(store.broker_client, [DUE_KEY, MESSAGES_KEY], [BATCH]))
                total += moved
                if moved < BATCH:
                    return total
        return self._publish_due()

    def _publish_due(self) -> int:
        client = self.app.redis
        total = 0
        while True:
            claimed = _CLAIM_DUE.run(
                client, [DUE_KEY, INFLIGHT_KEY, MESSAGES_KEY], [BATCH, CLAIM_LEASE]
            )
            done = []
            for task_id, message in zip(claimed[0::2], claimed[1::2], strict=True):
                try:
                    republish_recorded(self.app, json.loads(as_text(message)))
                except Exception:
                    # Left claimed: it goes back to the store when the lease ends.
                    log.exception("publishing a due message failed; retrying after the lease")
                    continue
                done.append(task_id)
            if done:
                pipe = client.pipeline(transaction=False)
                pipe.zrem(INFLIGHT_KEY, *done)
                pipe.hdel(MESSAGES_KEY, *done)
                pipe.execute()
            total += len(done)
            if len(claimed) < 2 * BATCH:
                return total
