"""DST: crontab slots in the schedule's own zone, through spring-forward and fall-back.

Driven through the real beat loop with an injected clock (real Redis, real SQLite,
real publishing): a daily 02:30 job fires exactly once per local day.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import redis

from stalwart import Stalwart
from stalwart.scheduler import store
from stalwart.scheduler.beat import Beat
from stalwart.scheduler.model import Schedule, ScheduleKind, ScheduleSpec
from stalwart.scheduler.slots import next_slot
from tests.scheduler.conftest import ManualClock, slots_of

# (zone, local day of the change, expected UTC fire instants of 02:30 on day-1, day, day+1)
CASES = {
    "new-york-spring": (
        "America/New_York",
        "2024-03-10",
        ["2024-03-09T07:30:00Z", "2024-03-10T07:30:00Z", "2024-03-11T06:30:00Z"],
    ),
    "new-york-fall": (
        "America/New_York",
        "2024-11-03",
        ["2024-11-02T06:30:00Z", "2024-11-03T07:30:00Z", "2024-11-04T07:30:00Z"],
    ),
    "berlin-spring": (
        "Europe/Berlin",
        "2024-03-31",
        ["2024-03-30T01:30:00Z", "2024-03-31T01:30:00Z", "2024-04-01T00:30:00Z"],
    ),
    "berlin-fall": (
        "Europe/Berlin",
        "2024-10-27",
        # 02:30 happens twice in Berlin on 2024-10-27 (00:30Z and 01:30Z): fire the first.
        ["2024-10-26T00:30:00Z", "2024-10-27T00:30:00Z", "2024-10-28T01:30:00Z"],
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_daily_0230_fires_once_per_local_day_through_dst(
    case: str, app: Stalwart, make_beat: Callable[..., Beat], redis_client: redis.Redis
) -> None:
    zone, day, expected = CASES[case]
    local_day = datetime.fromisoformat(day).replace(tzinfo=ZoneInfo(zone))
    start = (local_day - timedelta(days=1)).astimezone(UTC)
    clock = ManualClock(start)
    store.add_schedule(
        app.engine,
        ScheduleSpec(
            name="nightly",
            task="tests.apps.scheduled.tick",
            kind=ScheduleKind.CRON,
            cron="30 2 * * *",
            timezone=zone,
        ),
        actor="test",
        now=start,
    )
    # Ticks every 17 minutes for three local days; grace covers the tick spacing.
    beat = make_beat(clock, grace=3600)
    while clock.now() < start + timedelta(days=3):
        report = beat.tick()
        assert report.leader
        clock.advance(17 * 60)
    assert slots_of(redis_client) == [f"nightly@{instant}" for instant in expected]


def _series(cron: str, zone: str, start: str, hours: int) -> list[datetime]:
    begin = datetime.fromisoformat(start).replace(tzinfo=UTC)
    schedule = Schedule(
        name="s", task="t", kind=ScheduleKind.CRON, cron=cron, timezone=zone, active_since=begin
    )
    slots, current = [], begin
    while True:
        upcoming = next_slot(schedule, current)
        assert upcoming is not None
        if upcoming > begin + timedelta(hours=hours):
            return slots
        slots.append(upcoming)
        current = upcoming


@pytest.mark.parametrize(
    ("zone", "fall_back_utc"),
    [("America/New_York", "2024-11-03T00:00"), ("Europe/Berlin", "2024-10-26T20:00")],
)
def test_frequent_jobs_keep_real_time_rhythm_through_the_doubled_hour(
    zone: str, fall_back_utc: str
) -> None:
    half_hourly = _series("*/30 * * * *", zone, fall_back_utc, 12)
    gaps = {b - a for a, b in itertools.pairwise(half_hourly)}
    assert gaps == {timedelta(minutes=30)}
    assert len(half_hourly) == 24


@pytest.mark.parametrize(
    ("zone", "spring_utc"),
    [("America/New_York", "2024-03-10T00:00"), ("Europe/Berlin", "2024-03-30T20:00")],
)
def test_hourly_jobs_skip_the_missing_hour_once(zone: str, spring_utc: str) -> None:
    hourly = _series("0 * * * *", zone, spring_utc, 12)
    assert len(hourly) == len(set(hourly)) == 12  # one per real hour, no duplicate
    assert {b - a for a, b in itertools.pairwise(hourly)} == {timedelta(hours=1)}


def test_fixed_time_in_the_doubled_hour_fires_once() -> None:
    # New York's doubled hour is 01:00-02:00 local.
    slots = _series("15 1 * * *", "America/New_York", "2024-11-02T12:00", 48)
    assert [s.isoformat() for s in slots] == [
        "2024-11-03T05:15:00+00:00",  # 01:15 EDT, first occurrence only
        "2024-11-04T06:15:00+00:00",
    ]
