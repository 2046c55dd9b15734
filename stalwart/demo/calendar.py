"""Business hours and the calendar clock of the CRM.

Sends go out Monday to Friday, 09:00-18:00 in New York, US public holidays excepted
(:data:`BUSINESS_HOURS`, a :class:`stalwart.Window`). Calendar decisions (is the window
open? which quota day is it?) read the app's clock: the real one plus
``CRM_CLOCK_OFFSET`` seconds. The demo sets the offset so that it runs in business
hours whenever you start it; tests set it to a Friday 17:59 or a 23:59.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from stalwart import Window

__all__ = ["BUSINESS_HOURS", "NEW_YORK", "business_offset", "describe", "local"]

BUSINESS_HOURS = Window("09:00-18:00", days="mon-fri", tz="America/New_York", holidays="US")
NEW_YORK = ZoneInfo("America/New_York")


def local(epoch: float) -> datetime:
    """An epoch as New York local time."""
    return datetime.fromtimestamp(epoch, NEW_YORK)


def describe(epoch: float) -> str:
    """``Tue 2026-03-10 10:00 New York``."""
    return local(epoch).strftime("%a %Y-%m-%d %H:%M New York")


def business_offset(now: float | None = None) -> float:
    """0 if New York business hours are open now and for the next hour; else the offset
    that moves the clock to one hour after the next opening (10:00 on a business day)."""
    now = time.time() if now is None else now
    hour = timedelta(hours=1).total_seconds()
    if BUSINESS_HOURS.is_open(now, NEW_YORK) and BUSINESS_HOURS.is_open(now + hour, NEW_YORK):
        return 0.0
    closed = now + hour if BUSINESS_HOURS.is_open(now, NEW_YORK) else now
    opens = BUSINESS_HOURS.next_open(closed, NEW_YORK)
    assert opens is not None  # ``closed`` is outside the window, so it opens later
    return opens + hour - now
