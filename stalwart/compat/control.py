"""Celery's ``app.control`` with a ``revoke`` that reaches the delay store too.

Written against Celery 5.7 (``celery.app.control.Control.revoke``). Celery's revoke is
a broadcast: workers remember the id and drop the message when it reaches them. A
task waiting in Stalwart's delay store (a long retry, a deferral, a caller's long
countdown) is not in any worker yet, and may wait longer than workers remember
revokes; so here it is also taken out of the store at once, its state set to
``REVOKED`` and a ``revoked`` event recorded. ``Stalwart(...)`` passes this class as
Celery's ``control=`` argument.
"""

from __future__ import annotations

import logging
from typing import Any

from celery.app.control import Control as CeleryControl

from stalwart.events import EventKind, TaskEvent

__all__ = ["Control"]

log = logging.getLogger("stalwart.delays")


class Control(CeleryControl):  # type: ignore[misc]
    """``app.control``: ``revoke`` also removes waiting messages from the delay store."""

    def revoke(
        self, task_id: Any, destination: Any = None, terminate: bool = False, **kwargs: Any
    ) -> Any:
        app = self.app
        ids = [task_id] if isinstance(task_id, str) else list(task_id)
        if hasattr(app, "delays"):
            for one in ids:
                try:
                    removed = app.delays.remove(str(one))
                except Exception:
                    log.warning("could not look for %s in the delay store", one, exc_info=True)
                    continue
                if removed:
                    app.backend.mark_as_revoked(str(one), "revoked while waiting")
                    fields = {"reason": "revoked", "where": "delay store"}
                    app.task_events.add(TaskEvent(EventKind.REVOKED, str(one), fields=fields))
        return super().revoke(task_id, destination=destination, terminate=terminate, **kwargs)
