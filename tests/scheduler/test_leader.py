"""The lease and the fencing token, against a real Redis: one leader, stale leaders fenced."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
import redis

from stalwart import Stalwart
from stalwart.scheduler import store
from stalwart.scheduler.beat import Beat, TickReport, _LostLeadership
from stalwart.scheduler.fire import Fire
from stalwart.scheduler.leader import FENCE_KEY, Claim, Lease, current_leader
from stalwart.scheduler.model import MissedPolicy, ScheduleKind, ScheduleSpec, to_ms
from stalwart.scheduler.presence import list_beats
from tests.scheduler.conftest import ManualClock, slots_of

START = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)
# A short lease, yet long enough that a loaded machine's tick (SQL, a publish) ends in it.
SHORT = 1.0


def test_one_holder_and_tokens_only_grow(redis_client: redis.Redis) -> None:
    leases = [Lease(redis_client, SHORT, holder=f"b{i}") for i in range(3)]
    assert [lease.acquire() for lease in leases] == [True, False, False]
    first_token = leases[0].token
    assert leases[0].acquire() and leases[0].token == first_token  # refresh keeps the term
    time.sleep(SHORT + 0.1)  # the holder stops refreshing: the lease expires in Redis
    assert leases[1].acquire()
    assert leases[1].token is not None and first_token is not None
    assert leases[1].token > first_token
    assert not leases[0].acquire() and not leases[2].acquire()
    assert current_leader(redis_client) == (leases[1].token, "b1")


def test_stale_leader_claim_is_refused_atomically(redis_client: redis.Redis) -> None:
    old = Lease(redis_client, SHORT, holder="old")
    assert old.acquire()
    assert old.claim("job", 1000, "payload-1") == Claim.CLAIMED
    assert old.claim("job", 1000, "payload-1") == Claim.ALREADY_HANDLED  # one claim per slot
    time.sleep(SHORT + 0.1)  # old is "paused" past its lease
    new = Lease(redis_client, 10, holder="new")
    assert new.acquire()
    # old still believes it leads: its fenced write fails and records nothing.
    assert old.is_leader
    assert old.claim("job", 2000, "payload-2") == Claim.NOT_LEADER
    assert not old.is_leader
    assert new.state().last_ms == {"job": 1000}
    assert new.claim("job", 2000, "payload-2") == Claim.CLAIMED


def test_fence_counter_survives_lease_expiry(redis_client: redis.Redis) -> None:
    lease = Lease(redis_client, 0.2, holder="a")
    tokens = []
    for _ in range(3):
        assert lease.acquire()
        tokens.append(lease.token)
        time.sleep(0.3)
    assert tokens == sorted(set(tokens))
    assert int(redis_client.get(FENCE_KEY) or 0) == tokens[-1]


def _every_minute(app: Stalwart) -> None:
    store.add_schedule(
        app.engine,
        ScheduleSpec(
            name="job",
            task="tests.apps.scheduled.tick",
            kind=ScheduleKind.INTERVAL,
            every=60,
            missed=MissedPolicy.CATCH_UP,
        ),
        actor="test",
        now=START,
    )


def test_stale_beat_fires_nothing(
    app: Stalwart, make_beat: Callable[..., Beat], redis_client: redis.Redis
) -> None:
    _every_minute(app)
    clock = ManualClock(START.replace(minute=1, second=1))
    old = make_beat(clock, beat_id="old", tick=0.1, lease=SHORT)
    assert old.tick().fired == ["job@2030-01-01T12:01:00Z"]
    time.sleep(SHORT + 0.1)  # old is paused past its lease; a standby takes over
    new = make_beat(clock, beat_id="new", tick=0.1, lease=10)
    assert new.tick().leader
    clock.set(START.replace(minute=2, second=1))
    # old wakes up mid-tick, still believing it leads: it must not publish anything.
    with pytest.raises(_LostLeadership):
        old._lead(TickReport())
    assert slots_of(redis_client) == ["job@2030-01-01T12:01:00Z"]
    assert new.tick().fired == ["job@2030-01-01T12:02:00Z"]
    assert slots_of(redis_client) == ["job@2030-01-01T12:01:00Z", "job@2030-01-01T12:02:00Z"]


def test_fire_claimed_by_a_dead_leader_is_published_by_the_next(
    app: Stalwart, make_beat: Callable[..., Beat], redis_client: redis.Redis
) -> None:
    _every_minute(app)
    schedule = store.get_schedule(app.engine, "job")
    slot = START.replace(minute=1)
    dead = Lease(redis_client, SHORT, holder="dead")
    assert dead.acquire()
    fire = Fire.for_slot(schedule, slot)
    assert dead.claim("job", to_ms(slot), fire.encode()) == Claim.CLAIMED
    # ... and the process dies before publishing: nothing reached the broker.
    assert slots_of(redis_client) == []
    time.sleep(SHORT + 0.1)
    clock = ManualClock(START.replace(minute=1, second=2))
    report = make_beat(clock, beat_id="next").tick()
    assert report.republished == ["job@2030-01-01T12:01:00Z"]
    assert report.fired == []  # the ledger says 12:01 is handled: not fired a second time
    assert slots_of(redis_client) == ["job@2030-01-01T12:01:00Z"]
    headers = [m for m in redis_client.lrange("celery", 0, -1)]
    assert len(headers) == 1


def test_presence_shows_leader_and_standbys(
    app: Stalwart, make_beat: Callable[..., Beat], redis_client: redis.Redis
) -> None:
    clock = ManualClock(START)
    beats = [make_beat(clock, beat_id=f"beat{i}") for i in range(3)]
    for beat in beats:
        beat.tick()
    shown = list_beats(redis_client)
    assert [(b.id, b.role) for b in shown] == [
        ("beat0", "leader"),
        ("beat1", "standby"),
        ("beat2", "standby"),
    ]
    beats[0].close()  # clean stop releases the lease at once
    beats[1].tick()
    assert [(b.id, b.role) for b in list_beats(redis_client)] == [
        ("beat1", "leader"),
        ("beat2", "standby"),
    ]
