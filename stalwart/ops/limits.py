"""Limits for people: throttles, quotas, concurrency (with holders), breakers, windows.

``stalwart limits`` and the console's /limits both show :func:`limits_view`. The live
state of throttles, quotas, concurrency and breakers comes from
:func:`stalwart.limits.state.read_limits` (the keys the check script uses, on the Redis
clock); windows are calendar arithmetic over the app's own task options, so they are
listed for every task of the app, whether or not it has run yet.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from stalwart.coordination import as_text
from stalwart.limits.keys import limit_scope, scoped
from stalwart.limits.state import read_limits

if TYPE_CHECKING:
    from stalwart.app import Stalwart

__all__ = ["LimitRow", "LimitsView", "WindowRow", "limits_view"]

MAX_HOLDERS = 50


@dataclass(frozen=True)
class LimitRow:
    """A throttle, quota, concurrency cap or breaker of one scope (task + limit key)."""

    kind: str
    task: str
    key: str
    limit: str
    used: int
    next_free: float | None
    resets_at: float | None = None
    holders: list[str] = field(default_factory=list)  # concurrency: task ids holding a slot


@dataclass(frozen=True)
class WindowRow:
    task: str
    window: str
    zone: str
    open: bool
    next_open: float | None  # epoch seconds; None while open


@dataclass(frozen=True)
class LimitsView:
    limits: list[LimitRow]
    windows: list[WindowRow]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def limits_view(app: Stalwart, now: float | None = None) -> LimitsView:
    client = app.redis
    now = time.time() if now is None else now
    rows = []
    for state in read_limits(client):
        if state.kind == "window":
            continue  # listed for every task of the app below, run or not
        holders: list[str] = []
        if state.kind == "concurrency":
            members = client.zrangebyscore(
                scoped("running", limit_scope(state.task, state.key)),
                f"({now}",
                "+inf",
                0,
                MAX_HOLDERS,
            )
            holders = [as_text(m) for m in members]
        rows.append(LimitRow(**{**asdict(state), "holders": holders}))
    return LimitsView(rows, windows(app, now))


def windows(app: Stalwart, now: float) -> list[WindowRow]:
    """The business-hours window of every task of ``app`` that has one."""
    rows = []
    for name in sorted(app.tasks.keys()):
        options = getattr(app.tasks[name], "stalwart_options", None)
        window = getattr(options, "window", None)
        if window is None:
            continue
        zone = window.zone_or(app.settings.timezone)
        rows.append(
            WindowRow(name, repr(window), str(zone), window.is_open(now, zone),
                      window.next_open(now, zone))
        )  # fmt: skip
    return rows
