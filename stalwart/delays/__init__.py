"""The delay store: messages that run later (retries, deferrals, long countdowns).

:mod:`.store` keeps them in Redis by due time, :mod:`.pump` moves due ones into their
queues (in every Stalwart process), :mod:`.republish` puts a running task back.
"""

from __future__ import annotations

from stalwart.delays.store import DelayStore

__all__ = ["DelayStore"]
