"""Missed-run policies, through the real beat loop with an injected clock.

Beat is "down" (no ticks) for 10 slots of an every-minute schedule, then comes back:
``skip`` fires none of them, ``run_once`` one, ``catch_up`` all of them (at most max).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
import redis

from stalwart import Stalwart
from stalwart.scheduler import store
from stalwart.scheduler.beat import Beat
from stalwart.scheduler.model import MissedPolicy, ScheduleKind, ScheduleSpec
from tests.scheduler.conftest import ManualClock, slots_of

START = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)


def _add(app: Stalwart, name: str, policy: MissedPolicy, catch_up_max: int = 100) -> None:
    store.add_schedule(
        app.engine,
        ScheduleSpec(
            name=name,
            task="tests.apps.scheduled.tick",
            kind=ScheduleKind.INTERVAL,
            every=60,
            missed=policy,
            catch_up_max=catch_up_max,
        ),
        actor="test",
        now=START,
    )


def _minutes(name: str, *minutes: int) -> list[str]:
    return [f"{name}@2030-01-01T12:{m:02d}:00Z" for m in minutes]


@pytest.mark.parametrize(
    ("policy", "catch_up_max", "expected_missed"),
    [
        (MissedPolicy.SKIP, 100, []),
        (MissedPolicy.RUN_ONCE, 100, [11]),
        (MissedPolicy.CATCH_UP, 100, list(range(2, 12))),
        (MissedPolicy.CATCH_UP, 3, [9, 10, 11]),
    ],
)
def test_slots_missed_while_beat_was_down(
    policy: MissedPolicy,
    catch_up_max: int,
    expected_missed: list[int],
    app: Stalwart,
    make_beat: Callable[..., Beat],
    redis_client: redis.Redis,
) -> None:
    _add(app, "job", policy, catch_up_max)
    clock = ManualClock(START)
    beat = make_beat(clock)  # grace = lease + 2 ticks = 12 s
    clock.set(START.replace(minute=1, second=5))
    beat.tick()  # 12:01 on time
    assert slots_of(redis_client) == _minutes("job", 1)
    # Down from 12:01:05 to 12:11:30: slots 12:02 ... 12:11 (10 of them) are all past grace.
    clock.set(START.replace(minute=11, second=30))
    beat.tick()
    assert slots_of(redis_client) == _minutes("job", 1, *expected_missed)
    # Back to normal: the next slot fires on time, nothing is fired twice.
    clock.set(START.replace(minute=12, second=1))
    beat.tick()
    assert slots_of(redis_client) == _minutes("job", 1, *expected_missed, 12)


def test_on_time_slot_fires_beside_missed_ones(
    app: Stalwart, make_beat: Callable[..., Beat], redis_client: redis.Redis
) -> None:
    _add(app, "skipper", MissedPolicy.SKIP)
    clock = ManualClock(START.replace(minute=10, second=5))  # 12:10 is 5 s old: on time
    make_beat(clock).tick()
    assert slots_of(redis_client) == _minutes("skipper", 10)


def test_a_new_leader_does_not_refire_and_continues_from_the_ledger(
    app: Stalwart, make_beat: Callable[..., Beat], redis_client: redis.Redis
) -> None:
    _add(app, "job", MissedPolicy.CATCH_UP)
    clock = ManualClock(START.replace(minute=3, second=1))
    first = make_beat(clock, beat_id="first")
    assert first.tick().fired == _minutes("job", 1, 2, 3)
    first.close()  # clean stop: the lease is released
    second = make_beat(clock, beat_id="second")
    report = second.tick()
    assert report.leader and report.fired == []
    clock.set(START.replace(minute=4, second=1))
    assert second.tick().fired == _minutes("job", 4)
    assert store.get_schedule(app.engine, "job").last_slot == START.replace(minute=4)


def test_paused_slots_are_not_fired_on_resume(
    app: Stalwart, make_beat: Callable[..., Beat], redis_client: redis.Redis
) -> None:
    _add(app, "job", MissedPolicy.CATCH_UP)
    clock = ManualClock(START.replace(minute=1, second=1))
    beat = make_beat(clock)
    beat.tick()
    store.set_enabled(app.engine, "job", False, actor="test", now=clock.now())
    clock.set(START.replace(minute=5, second=1))
    assert beat.tick().fired == []
    store.set_enabled(app.engine, "job", True, actor="test", now=clock.now())
    clock.set(START.replace(minute=6, second=0))
    # The resumed interval counts from the resume instant (12:05:01 + 60 s).
    assert beat.tick().fired == []
    clock.set(START.replace(minute=6, second=2))
    assert beat.tick().fired == ["job@2030-01-01T12:06:01Z"]


def test_one_off_at_fires_once(
    app: Stalwart, make_beat: Callable[..., Beat], redis_client: redis.Redis
) -> None:
    at = START.replace(minute=30)
    store.add_schedule(
        app.engine,
        ScheduleSpec(name="once", task="tests.apps.scheduled.tick", kind=ScheduleKind.AT, at=at),
        actor="test",
        now=START,
    )
    clock = ManualClock(START)
    beat = make_beat(clock)
    for minute in (29, 30, 31, 45):
        clock.set(START.replace(minute=minute, second=1))
        beat.tick()
    assert slots_of(redis_client) == ["once@2030-01-01T12:30:00Z"]
