"""`stalwart worker`'s supervised processes: a killed process's messages run again at
once (not after the visibility timeout, an hour here), and nothing is lost or doubled
when processes are killed at random under load."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import redis

from stalwart import Stalwart
from stalwart.compat.transport import held_key
from stalwart.settings import Settings
from tests.support.processes import cmdline
from tests.support.workers import WorkerProcess, wait_for

APP = "tests.apps.basic:app"  # the default visibility timeout: 3600 s


def _holder_of(client: redis.Redis) -> str:
    """The supervised process that holds a message now (its held set is not empty)."""
    for key in client.scan_iter(match=held_key("*")):
        if client.scard(key):
            return key.decode().split(":", 2)[2]  # stalwart:held:<hostname>:<incarnation>
    raise AssertionError("no process holds a message")


def test_a_killed_process_s_message_runs_again_at_once(
    start_worker: Callable[..., WorkerProcess], settings: Settings, redis_client: redis.Redis
) -> None:
    assert settings.visibility_timeout == 3600
    worker = start_worker(APP, args=("-c", "2"))  # the default process model
    app = Stalwart("client", settings=settings)
    result = app.send_task("tests.apps.basic.sleep", args=(2.0,))
    wait_for(lambda: any(redis_client.scard(k) for k in redis_client.scan_iter("stalwart:held:*")),
             30, 0.05, "a process to hold the message")  # fmt: skip
    hostname = _holder_of(redis_client).rsplit(":", 1)[0]
    (victim,) = [p for p in worker.child_pids() if hostname.encode() in (cmdline(p) or b"")]
    killed_at = time.monotonic()
    os.kill(victim, signal.SIGKILL)
    assert result.get(timeout=60) == 2.0
    # Put back at once and run again (2 s): nowhere near the hour of the visibility timeout.
    assert time.monotonic() - killed_at < 30
    wait_for(lambda: redis_client.hlen("unacked") == 0, 10, 0.05, "the acknowledgement")
    # The supervisor started a new process in its place.
    wait_for(lambda: len([p for p in worker.child_pids() if b"--pool=solo" in (cmdline(p) or b"")])
             == 2, 30, 0.1, "the replacement process")  # fmt: skip
    assert worker.alive()


def test_the_supervisor_runs_the_services_once_and_its_processes_follow_it(
    start_worker: Callable[..., WorkerProcess], settings: Settings, tmp_path: Path
) -> None:
    worker = start_worker(APP, args=("-c", "2"))
    children = worker.child_pids()
    solo = [p for p in children if b"--pool=solo" in (cmdline(p) or b"")]
    recorders = [p for p in children if b"recorder_process" in (cmdline(p) or b"")]
    assert len(solo) == 2 and len(recorders) == 1
    worker.kill()  # SIGKILL the supervisor: its processes must not live on
    wait_for(lambda: not any(cmdline(p) for p in solo), 60, 0.2, "the processes to stop")


def test_a_message_sent_while_a_due_task_runs_survives_a_kill(
    start_worker: Callable[..., WorkerProcess], settings: Settings, redis_client: redis.Redis
) -> None:
    """A solo process runs a task that waited for its ETA from its event loop's timer,
    with the loop paused. A message sent meanwhile must stay on the broker, not be popped
    into the paused process's socket, where the SIGKILL below would lose it for good
    (nothing unacknowledged, nothing queued; the visibility timeout is an hour here)."""
    worker = start_worker(APP, args=("-c", "1"))
    app = Stalwart("client", settings=settings)
    slow = app.send_task("tests.apps.basic.sleep", args=(4.0,), countdown=1)
    wait_for(lambda: slow.state == "STARTED", 30, 0.02, "the due task to start")
    quick = app.send_task("tests.apps.basic.add", args=(2, 3))
    time.sleep(0.5)  # the fault's window: the message is on the broker while the task runs
    (process,) = [p for p in worker.child_pids() if b"--pool=solo" in (cmdline(p) or b"")]
    os.kill(process, signal.SIGKILL)
    assert quick.get(timeout=30) == 5
    assert slow.get(timeout=60) == 4.0  # put back by the supervisor, run again
    assert redis_client.llen("celery") == 0


def test_a_message_taken_by_a_process_that_dies_before_reading_it_runs(
    start_worker: Callable[..., WorkerProcess], settings: Settings, redis_client: redis.Redis
) -> None:
    """The window between a queue pop and the unacknowledged copy, made wide: the only
    process is stopped (SIGSTOP: a process that waits for a core on a busy machine)
    while it waits for work, a task is sent, then the process is SIGKILLed. With kombu's
    BRPOP, Redis hands the message to the stopped process's socket and the kill loses it
    (nowhere: not queued, not unacknowledged). A supervised process claims instead: the
    message is queued or recorded as held at every moment, and runs once."""
    worker = start_worker(APP, args=("-c", "1"))
    app = Stalwart("client", settings=settings)
    assert app.send_task("tests.apps.basic.add", args=(1, 1)).get(timeout=30) == 2
    (process,) = [p for p in worker.child_pids() if b"--pool=solo" in (cmdline(p) or b"")]
    os.kill(process, signal.SIGSTOP)
    try:
        sent = app.send_task("tests.apps.basic.add", args=(2, 3))
        time.sleep(0.5)  # a BRPOP would have been answered by now
        assert redis_client.llen("celery") + redis_client.hlen("unacked") == 1
    finally:
        os.kill(process, signal.SIGKILL)
    assert sent.get(timeout=30) == 5
    wait_for(lambda: redis_client.hlen("unacked") == 0, 10, 0.05, "the acknowledgement")
    assert redis_client.llen("celery") == 0


def test_a_process_claims_on_after_redis_forgets_its_script(
    start_worker: Callable[..., WorkerProcess], settings: Settings, redis_client: redis.Redis
) -> None:
    """Claims are sent by hash: when Redis's script cache is emptied under a running
    worker (SCRIPT FLUSH, as a failover to a fresh replica does), the process loads the
    script again and consumes on, losing nothing."""
    start_worker(APP, args=("-c", "1"))
    app = Stalwart("client", settings=settings)
    assert app.send_task("tests.apps.basic.add", args=(1, 1)).get(timeout=30) == 2
    redis_client.script_flush()
    results = [app.send_task("tests.apps.basic.add", args=(n, 1)) for n in range(5)]
    assert [r.get(timeout=30) for r in results] == [n + 1 for n in range(5)]
    assert redis_client.llen("celery") == 0
