"""Guarantee 5: three real ``stalwart beat`` processes, an every-second schedule, faults.

During about a minute the leader is SIGKILLed, the next leader is SIGSTOPped for twice
the lease and then resumed, and the leader after that is cut off from Redis (its TCP
traffic held by a proxy, its connections CLIENT KILLed) for twice the lease and then let
through again, late. Counted on the worker side: every slot of the run fired exactly
once, and no slot was later than lease + tick (plus the worker's pickup) at failover.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
import redis

from stalwart import Stalwart
from stalwart.scheduler import store
from stalwart.scheduler.fire import Fire, publish
from stalwart.scheduler.leader import current_leader
from stalwart.scheduler.model import MissedPolicy, ScheduleKind, ScheduleSpec
from stalwart.settings import Settings
from tests.scheduler.support import (
    BeatProcess,
    TcpProxy,
    kill_client_connections,
    worker_runs,
)
from tests.support.workers import WorkerProcess, wait_for

LEASE = 3.0
TICK = 0.5
DURATION = float(os.environ.get("STALWART_TEST_FAILOVER_SECONDS", "60"))
# Worker pickup and scheduling noise on a shared 2-core machine.
SLACK = 1.5


@pytest.fixture
def proxies() -> Iterator[list[TcpProxy]]:
    made: list[TcpProxy] = []
    yield made
    for proxy in made:
        proxy.close()


def test_each_slot_fires_exactly_once_through_kill_stop_and_partition(
    start_worker: Callable[..., WorkerProcess],
    start_beat: Callable[..., BeatProcess],
    proxies: list[TcpProxy],
    redis_client: redis.Redis,
    settings: Settings,
    redis_db: int,
) -> None:
    start_worker("tests.apps.scheduled:app", args=("-c", "2"))
    beats: dict[str, BeatProcess] = {}
    links: dict[str, TcpProxy] = {}

    def launch(beat_id: str) -> None:
        # Each beat reaches Redis (coordination and broker) through a proxy of its own.
        proxy = TcpProxy()
        proxies.append(proxy)
        url = proxy.url(redis_db)
        env = {"STALWART_BROKER_URL": url, "STALWART_REDIS_URL": url}
        args = ("--tick", str(TICK), "--lease", str(LEASE))
        beats[beat_id] = start_beat(beat_id, args=args, env=env, wait=False)
        links[beat_id] = proxy

    for beat_id in ("b1", "b2", "b3"):
        launch(beat_id)
    for beat in beats.values():
        beat.wait_ready()

    def leader() -> str | None:
        held = current_leader(redis_client)
        return held[1] if held else None

    def new_leader(old: str, timeout: float = 3 * LEASE) -> str:
        found = wait_for(
            lambda: (who := leader()) not in (None, old) and who,
            timeout,
            0.05,
            f"a leader other than {old}",
        )
        return str(found)

    app = Stalwart("failover-test", settings=settings)
    store.add_schedule(
        app.engine,
        ScheduleSpec(
            name="pulse",
            task="tests.apps.scheduled.tick",
            kind=ScheduleKind.INTERVAL,
            every=1.0,
            missed=MissedPolicy.CATCH_UP,
        ),
        actor="test",
    )
    started = time.time()
    takeovers: list[tuple[str, float]] = []

    # 1. SIGKILL the leader; a standby takes over; a replacement process joins.
    time.sleep(DURATION * 0.15)
    first = str(wait_for(leader, 10, 0.05, "a leader"))
    beats[first].signal(signal.SIGKILL)
    killed_at = time.time()
    second = new_leader(first)
    takeovers.append(("SIGKILL", time.time() - killed_at))
    launch("b4")

    # 2. SIGSTOP the new leader for twice the lease, then SIGCONT it.
    time.sleep(DURATION * 0.2)
    beats[second].signal(signal.SIGSTOP)
    stopped_at = time.time()
    third = new_leader(second)
    takeovers.append(("SIGSTOP", time.time() - stopped_at))
    time.sleep(max(0.0, stopped_at + 2 * LEASE - time.time()))
    beats[second].signal(signal.SIGCONT)

    # 3. Cut the leader off from Redis for twice the lease, then let its traffic through.
    time.sleep(DURATION * 0.2)
    cut = links[third]
    cut.cut()
    assert kill_client_connections(redis_client, f"stalwart-beat:{third}") >= 1
    cut_at = time.time()
    new_leader(third)
    takeovers.append(("partition", time.time() - cut_at))
    time.sleep(max(0.0, cut_at + 2 * LEASE - time.time()))
    cut.heal()

    time.sleep(max(0.0, started + DURATION - time.time()))
    store.set_enabled(app.engine, "pulse", False, actor="test")
    stopped = time.time()
    time.sleep(3 * TICK + 2)  # let the last fires reach the worker

    runs = worker_runs(redis_client, "pulse")
    counts = Counter(run.slot for run in runs)
    doubled = {slot: n for slot, n in counts.items() if n > 1}
    assert doubled == {}, f"slots fired more than once: {doubled}"
    times = sorted(run.slot_time for run in runs)
    assert times, "nothing fired"
    expected = round(times[-1] - times[0]) + 1
    missing = expected - len(times)
    assert missing == 0, f"{missing} slots between the first and last never fired"
    assert times[0] - started <= 1.0 + TICK + SLACK
    assert times[-1] >= stopped - 1.0 - TICK - SLACK
    lateness = max(run.ran_at - run.slot_time for run in runs)
    print(
        f"\nfailover: {len(runs)} slots over {times[-1] - times[0]:.0f}s, each once; "
        f"takeover after fault: "
        + ", ".join(f"{what} {seconds:.2f}s" for what, seconds in takeovers)
        + f"; max slot lateness on the worker {lateness:.2f}s "
        f"(bound lease + tick = {LEASE + TICK:.1f}s)"
    )
    assert lateness <= LEASE + TICK + SLACK


def test_a_duplicated_fire_of_one_slot_runs_once(
    start_worker: Callable[..., WorkerProcess], redis_client: redis.Redis, settings: Settings
) -> None:
    """The backstop behind fencing: a slot published twice (a stale leader that slipped
    through, a pending fire re-published after a crash) runs once on the workers."""
    start_worker("tests.apps.scheduled:app", args=("-c", "2"))
    app = Stalwart("duplicate-test", settings=settings)
    schedule = store.add_schedule(
        app.engine,
        ScheduleSpec(
            name="dup", task="tests.apps.scheduled.tick", kind=ScheduleKind.INTERVAL, every=60.0
        ),
        actor="test",
    )
    fire = Fire.for_slot(schedule, schedule.active_since + timedelta(seconds=60))
    task_ids = [publish(app, fire) for _ in range(3)]
    assert len(set(task_ids)) == 3  # three distinct messages, one slot
    results = [app.AsyncResult(task_id).get(timeout=60) for task_id in task_ids]
    assert results == [fire.slot_id] * 3  # duplicates end with the first run's result
    assert [run.slot for run in worker_runs(redis_client, "dup")] == [fire.slot]
    other = Fire.for_slot(schedule, schedule.active_since + timedelta(seconds=120))
    assert app.AsyncResult(publish(app, other)).get(timeout=60) == other.slot_id
    assert len(worker_runs(redis_client, "dup")) == 2  # a different slot runs normally
