"""Cluster-wide limits with real worker subprocesses and real Redis."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import redis

from stalwart import Stalwart
from stalwart.delays.store import DUE_KEY
from stalwart.events import EVENT_STREAM, EventKind, decode_entry
from stalwart.limits.breaker import read_breaker
from stalwart.settings import Settings
from tests.apps.flow import CLOCK_FROZEN, CLOCK_OFFSET, GATEWAY_RESET, PROVIDER_PAUSE, register
from tests.flow.conftest import APP
from tests.support.workers import WorkerProcess, wait_for

Records = Callable[[str], list[dict[str, Any]]]
NY = ZoneInfo("America/New_York")


def deferrals(client: redis.Redis, task_id: str | None = None) -> list[Any]:
    events = [e for _, raw in client.xrange(EVENT_STREAM) for _, e in decode_entry(raw)]
    return [
        e
        for e in events
        if e.kind is EventKind.DEFERRED and (task_id is None or e.task_id == task_id)
    ]


def test_throttle_holds_across_four_workers_and_reaches_the_limit(
    start_worker: Callable[..., WorkerProcess], tasks: SimpleNamespace, records: Records
) -> None:
    for _ in range(4):
        start_worker(APP, args=("-c", "2"))
    for n in range(600):
        tasks.throttled.delay(n)
    wait_for(lambda: len(records("throttled")) == 600, 90, 0.5, "600 throttled runs")
    runs = records("throttled")
    assert sorted(r["n"] for r in runs) == list(range(600))
    admitted = sorted(r["admitted"] for r in runs)
    # No 21 starts inside any 1-second window: the 21st start after any start is >= 1 s later.
    closest = min(b - a for a, b in zip(admitted, admitted[20:], strict=False))
    assert closest >= 1.0, closest
    rate = (len(admitted) - 20) / (admitted[-1] - admitted[0])
    assert rate >= 0.95 * 20, rate


def test_quota_defers_the_126th_send_of_one_sender_to_the_next_local_day(
    start_worker: Callable[..., WorkerProcess],
    make_settings: Callable[..., Settings],
    records: Records,
    redis_client: redis.Redis,
) -> None:
    settings = make_settings(timezone="America/New_York")
    # The workers' clock stands at 23:59:50 tonight in New York (the quota's zone).
    midnight = datetime.combine(
        datetime.now(NY).date() + timedelta(days=1), datetime.min.time(), tzinfo=NY
    ).timestamp()
    redis_client.set(CLOCK_FROZEN, repr(midnight - 10))
    start_worker(APP, settings=settings, args=("-c", "4"))
    tasks = register(Stalwart("flow-client", settings=settings))
    sent = [tasks.send.delay("+15550001", n) for n in range(126)]
    for n in range(5):
        tasks.send.delay("+15550002", n)
    wait_for(lambda: len(records("send")) == 130, 60, 0.2, "130 sends")
    wait_for(lambda: deferrals(redis_client), 30, 0.1, "the quota deferral")
    # One task deferred (if this machine is slow to move the clock on, the same task
    # comes back after its 10 real seconds and is deferred again: still that one).
    deferral, *again = deferrals(redis_client)
    assert {e.task_id for e in again} <= {deferral.task_id}
    assert deferral.fields["reason"] == "quota"
    assert deferral.task_id in {r.id for r in sent}
    # Deferred to New York midnight: 10 s of the workers' clock from the check.
    assert 9.0 <= deferral.fields["until"] - deferral.at <= 10.5
    assert len(records("send")) == 130
    redis_client.set(CLOCK_FROZEN, repr(midnight + 1))  # the next day begins
    wait_for(lambda: len(records("send")) == 131, 30, 0.1, "the deferred send")
    runs = records("send")
    first = [r for r in runs if r["sender"] == "+15550001"]
    assert len([r for r in first if r["at"] < midnight]) == 125
    assert len([r for r in first if r["at"] >= midnight]) == 1
    assert len([r for r in runs if r["sender"] == "+15550002" and r["at"] < midnight]) == 5
    assert all(r["retries"] == 0 for r in runs)


def test_window_defers_to_the_next_local_opening_on_the_durable_schedule(
    start_worker: Callable[..., WorkerProcess],
    tasks: SimpleNamespace,
    redis_client: redis.Redis,
    records: Records,
) -> None:
    # Friday 2026-03-06 18:00:30 in New York; opens Monday 2026-03-09 09:00 EDT (DST).
    now = datetime(2026, 3, 6, 18, 0, 30, tzinfo=NY).timestamp()
    opens = datetime(2026, 3, 9, 9, 0, tzinfo=NY).timestamp()
    offset = now - time.time()
    redis_client.set(CLOCK_OFFSET, repr(offset))
    start_worker(APP)
    result = tasks.business.delay(1)
    wait_for(lambda: deferrals(redis_client, result.id), 30, what="the window deferral")
    event = deferrals(redis_client, result.id)[0]
    assert event.fields["reason"] == "window"
    expected = opens - offset  # the real time when the workers' clock says Monday 09:00
    assert abs(event.fields["until"] - expected) < 2.0
    (_, due) = redis_client.zrange(DUE_KEY, 0, -1, withscores=True)[0]
    assert abs(due - expected) < 2.0
    assert records("business") == []


def test_concurrency_cap_holds_and_a_killed_holder_frees_its_slot(
    start_worker: Callable[..., WorkerProcess],
    tasks: SimpleNamespace,
    records: Records,
    redis_client: redis.Redis,
) -> None:
    workers = [start_worker(APP, args=("-c", "2")) for _ in range(3)]
    for n in range(6):
        tasks.exclusive.delay(1.0, n)
    wait_for(lambda: len(records("exclusive_end")) == 6, 60, 0.2, "6 capped runs")
    assert max(int(v) for v in redis_client.lrange("test:running_max", 0, -1)) == 2

    for n in (100, 101):
        tasks.exclusive.delay(60.0, n)
    wait_for(lambda: len(records("exclusive_start")) == 8, 30, 0.1, "2 long holders")
    holders = {r["pid"] for r in records("exclusive_start") if r["n"] >= 100}
    killed = [w for w in workers if holders & set(w.child_pids())]
    for worker in killed:
        os.killpg(worker.pid, signal.SIGKILL)
    killed_at = time.time()
    for worker in killed:
        worker.process.wait()
    # A BRPOP the dead workers had pending could still take the next message: let
    # Redis notice the closed connections first.
    time.sleep(0.5)
    if len(killed) == len(workers):
        start_worker(APP)
    tasks.exclusive.delay(0.1, 200)
    wait_for(lambda: any(r["n"] == 200 for r in records("exclusive_end")), 30, 0.1, "next")
    started = next(r["at"] for r in records("exclusive_start") if r["n"] == 200)
    # The lease is 4 s, extended every 4/3 s: the slots of the killed holders free
    # themselves 2.7-4 s after the kill, not before.
    assert 4.0 - 4.0 / 3 - 0.1 <= started - killed_at <= 4.0 + 3.0


def test_unique_runs_one_of_identical_sends_and_different_args_in_parallel(
    start_worker: Callable[..., WorkerProcess], tasks: SimpleNamespace, records: Records
) -> None:
    # All sent before a worker runs the first: "queued or running" covers every send
    # (on a loaded machine the first could finish before the 100th was published, and
    # a send after that is a new instance, rightly run).
    for _ in range(100):
        tasks.singleton.delay(1)
    for x in (2, 3, 4):
        tasks.singleton.delay(x)
    start_worker(APP, args=("-c", "4"))
    wait_for(lambda: len(records("singleton_end")) == 4, 60, 0.1, "4 unique runs")
    time.sleep(1.0)  # the 99 duplicates are consumed by now; none may have run
    starts = records("singleton_start")
    assert sorted(r["x"] for r in starts) == [1, 2, 3, 4]
    ends = {r["x"]: r["at"] for r in records("singleton_end")}
    overlapping = [
        (a, b)
        for a in starts
        for b in starts
        if a["x"] < b["x"] and a["at"] < ends[b["x"]] and b["at"] < ends[a["x"]]
    ]
    assert overlapping, "different arguments should run in parallel"


def test_breaker_opens_defers_and_a_probe_closes_it(
    start_worker: Callable[..., WorkerProcess],
    tasks: SimpleNamespace,
    records: Records,
    redis_client: redis.Redis,
) -> None:
    start_worker(APP, args=("-c", "2"))
    redis_client.set("test:gateway_down", 1)
    for n in range(3):
        tasks.call_gateway.delay(n)
        wait_for(lambda n=n: len(records("gateway_call")) == n + 1, 30, 0.05, "a failure")
    wait_for(lambda: read_breaker(redis_client, "gateway", time.time()).state == "open", 10, 0.05)
    opened = read_breaker(redis_client, "gateway", time.time()).opened_at or 0.0
    later = [tasks.call_gateway.delay(n) for n in range(3, 8)]
    wait_for(lambda: len(deferrals(redis_client)) >= 5, 30, 0.05, "deferred by the breaker")
    assert {e.fields["reason"] for e in deferrals(redis_client)} == {"breaker"}
    redis_client.delete("test:gateway_down")
    for result in later:
        result.get(timeout=60)
    calls = [r for r in records("gateway_call") if r["n"] >= 3]
    assert len(calls) == 5
    first = min(r["at"] for r in calls)
    assert first >= opened + GATEWAY_RESET - 0.1  # nothing ran while open
    probe_ok = min(r["at"] for r in records("gateway_ok"))
    # Half-open: exactly one probe ran before the breaker closed again.
    assert len([r for r in calls if r["at"] < probe_ok]) == 1
    assert read_breaker(redis_client, "gateway", time.time()).state == "closed"


def test_retry_after_pauses_only_that_key_without_consuming_retries(
    start_worker: Callable[..., WorkerProcess], tasks: SimpleNamespace, records: Records
) -> None:
    start_worker(APP, args=("-c", "1"))
    for n in range(4):
        tasks.provider.delay("A", n)
    wait_for(lambda: records("provider_429"), 30, 0.05, "the provider's 429")
    tasks.provider.delay("B", 0)
    wait_for(lambda: len(records("provider")) == 5, 30, 0.05, "4 A sends and 1 B send")
    refused = records("provider_429")[0]["at"]
    runs = records("provider")
    a_runs = [r for r in runs if r["sender"] == "A"]
    assert sorted(r["n"] for r in a_runs) == [0, 1, 2, 3]
    assert all(r["at"] >= refused + PROVIDER_PAUSE - 0.05 for r in a_runs)
    assert [r["at"] < refused + PROVIDER_PAUSE for r in runs if r["sender"] == "B"] == [True]
    assert all(r["retries"] == 0 for r in runs)


def test_limits_command_lists_each_limit_with_its_use(
    start_worker: Callable[..., WorkerProcess],
    tasks: SimpleNamespace,
    records: Records,
    run_cli: Callable[..., Any],
) -> None:
    start_worker(APP)
    for n in range(3):
        tasks.send.delay("+15550009", n)
    tasks.call_gateway.delay(1)
    wait_for(lambda: len(records("send")) == 3 and records("gateway_ok"), 30, 0.05)
    done = run_cli("limits", "--json")
    assert done.returncode == 0, done.stderr
    import json

    states = {(s["kind"], s["key"]): s for s in json.loads(done.stdout)}
    quota = states[("quota", "+15550009")]
    assert quota["task"] == "tests.apps.flow.send"
    assert quota["used"] == 3
    assert quota["limit"].startswith("125/d")
    assert quota["next_free"] is None
    assert states[("breaker", "gateway")]["limit"] == "closed"
    table = run_cli("limits")
    assert table.returncode == 0 and "+15550009" in table.stdout


def test_duplicates_stopped_by_the_idempotency_key_consume_no_quota(
    start_worker: Callable[..., WorkerProcess],
    tasks: SimpleNamespace,
    records: Callable[[str], list[dict[str, Any]]],
    redis_client: redis.Redis,
) -> None:
    """Limits count runs, not deliveries: 3 messages each delivered 4 times under
    quota="5/d" run 3 times and use 3 units, so 2 more distinct ones still run today."""
    start_worker(APP, args=("-c", "2"))
    first = [tasks.counted.delay(n) for n in (1, 2, 3) for _ in range(4)]
    assert sorted(r.get(timeout=60) for r in first) == sorted([1, 2, 3] * 4)
    assert sorted(r["n"] for r in records("counted")) == [1, 2, 3]
    (counter,) = redis_client.keys("stalwart:flow:quota:tests.apps.flow.counted:*")
    assert redis_client.get(counter) == b"3"
    more = [tasks.counted.delay(n) for n in (4, 5)]
    assert sorted(r.get(timeout=60) for r in more) == [4, 5]
    sixth = tasks.counted.delay(6)
    wait_for(lambda: sixth.state == "DEFERRED", 30, 0.1, "the 6th to wait for tomorrow")
    assert sixth.info["reason"] == "quota"
    assert sorted(r["n"] for r in records("counted")) == [1, 2, 3, 4, 5]
