"""Times and durations for people: what the CLI shows instead of raw epoch seconds.

A moment is shown in the local zone of the machine showing it, with UTC beside it and
how far it is from now::

    >>> when(1_796_180_412.41, now=1_796_168_892.0, zone=ZoneInfo("America/New_York"))
    '2026-12-01 22:00:12 EST (2026-12-02 03:00:12 UTC, in 3h 12m)'

When the local zone is UTC the UTC part is not repeated: ``2026-12-02 03:00:12 UTC (in
3h 12m)``. Durations keep their two largest units: ``42s``, ``4m 10s``, ``3h 12m``,
``2d 5h``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, tzinfo

__all__ = ["as_epoch", "relative", "span", "when"]

_UNITS = (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1))
_STAMP = "%Y-%m-%d %H:%M:%S"


def span(seconds: float) -> str:
    """A duration in its two largest units: ``3h 12m``, ``4m 10s``, ``42s``, ``0s``."""
    left = round(abs(seconds))
    if left < 60:
        return f"{left}s"
    parts: list[str] = []
    for unit, size in _UNITS:
        count, left = divmod(left, size)
        if count or parts:
            parts.append(f"{count}{unit}" if count else "")
        if len(parts) == 2:
            break
    return " ".join(part for part in parts if part)


def relative(epoch: float, now: float | None = None) -> str:
    """``in 3h 12m``, ``5m 2s ago`` or ``now``."""
    delta = epoch - (time.time() if now is None else now)
    if abs(delta) < 0.5:
        return "now"
    return f"in {span(delta)}" if delta > 0 else f"{span(delta)} ago"


def when(moment: float | datetime, now: float | None = None, zone: tzinfo | None = None) -> str:
    """Local time, UTC and distance from now (``zone``: the machine's local zone)."""
    epoch = moment.timestamp() if isinstance(moment, datetime) else float(moment)
    at_utc = datetime.fromtimestamp(epoch, UTC)
    local = at_utc.astimezone(zone) if zone is not None else at_utc.astimezone()
    distance = relative(epoch, now)
    if local.utcoffset() == at_utc.utcoffset() and local.tzname() in ("UTC", "GMT", None):
        return f"{at_utc.strftime(_STAMP)} UTC ({distance})"
    return f"{local.strftime(_STAMP)} {local.tzname()} ({at_utc.strftime(_STAMP)} UTC, {distance})"


def as_epoch(value: object) -> float | None:
    """``value`` as epoch seconds if it plausibly is one (a number after 2001), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if 1e9 <= number < 1e11 else None
