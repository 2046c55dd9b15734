"""Windows: local opening times across DST changes and public holidays (pure calendar)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from stalwart import Window
from stalwart.errors import TaskOptionError

NY = ZoneInfo("America/New_York")
UTC = ZoneInfo("UTC")
BUSINESS = Window("09:00-18:00", days="mon-fri", tz="America/New_York", holidays="US")


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=NY).timestamp()


def utc(epoch: float | None) -> str:
    assert epoch is not None
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M")


@pytest.mark.parametrize(
    ("now", "opens_utc"),
    [
        # Friday evening before spring-forward (Sun 2026-03-08): Monday 09:00 is EDT.
        ("2026-03-06T18:30", "2026-03-09 13:00"),
        # Friday evening before fall-back (Sun 2026-11-01): Monday 09:00 is EST.
        ("2026-10-30T19:00", "2026-11-02 14:00"),
        # Martin Luther King Jr. Day (Mon 2026-01-19) is skipped.
        ("2026-01-16T18:00", "2026-01-20 14:00"),
        # Before opening on a working day: today.
        ("2026-03-10T07:15", "2026-03-10 13:00"),
        # Independence Day observed on Friday 2026-07-03 (the 4th is a Saturday).
        ("2026-07-02T18:00", "2026-07-06 13:00"),
    ],
)
def test_next_opening_is_local_business_time(now: str, opens_utc: str) -> None:
    assert utc(BUSINESS.next_open(at(now), NY)) == opens_utc


def test_open_inside_hours_and_closed_at_the_end() -> None:
    assert BUSINESS.next_open(at("2026-03-09T09:00"), NY) is None
    assert BUSINESS.next_open(at("2026-03-09T17:59"), NY) is None
    assert BUSINESS.next_open(at("2026-03-09T18:00"), NY) == at("2026-03-10T09:00")


def test_start_inside_a_spring_forward_gap_opens_when_the_clock_jumps() -> None:
    night = Window("02:30-04:00", tz="America/New_York")
    opens = night.next_open(at("2026-03-08T01:00"), NY)
    assert datetime.fromtimestamp(opens or 0, NY).isoformat() == "2026-03-08T03:00:00-04:00"


def test_window_uses_the_app_zone_when_it_has_none() -> None:
    window = Window("09:00-10:00")
    assert window.zone_or("Europe/Paris") == ZoneInfo("Europe/Paris")


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("9-18",), {}, "must look like '09:00-18:00'"),
        (("18:00-09:00",), {}, "across midnight"),
        (("09:00-18:00",), {"days": "weekdays"}, "use day names"),
        (("09:00-18:00",), {"tz": "Mars/Olympus"}, "not an IANA time zone"),
        (("09:00-18:00",), {"holidays": "XX"}, "unknown country"),
        (("25:00-26:00",), {}, "not a valid time of day"),
    ],
)
def test_bad_windows_fail_with_one_clear_message(
    args: tuple[str, ...], kwargs: dict[str, str], message: str
) -> None:
    with pytest.raises(TaskOptionError, match=message):
        Window(*args, **kwargs)
