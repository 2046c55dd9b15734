"""A supervised worker process stops when its supervisor is gone.

If the supervisor (:mod:`stalwart.worker.supervisor`) is killed, nothing would ever
stop its worker processes or put back what they hold; each one watches its parent and
starts its own cold shutdown (SIGTERM) when it has been re-parented.
"""

from __future__ import annotations

import logging
import os
import signal

from stalwart.services import Service

__all__ = ["OrphanWatch"]

log = logging.getLogger("stalwart.worker")


class OrphanWatch(Service):
    """Stops this process once its parent is no longer ``supervisor`` (its pid)."""

    name = "orphan-watch"
    interval = 1.0

    def __init__(self, supervisor: int) -> None:
        self.parent = supervisor  # given, not read: the supervisor may be gone already
        self._signalled = False

    def tick(self) -> None:
        if self._signalled or os.getppid() == self.parent:
            return
        self._signalled = True
        log.warning("the supervisor (pid %s) is gone; stopping", self.parent)
        os.kill(os.getpid(), signal.SIGTERM)
