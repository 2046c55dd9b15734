"""Tasks for the reliability tests (tests/reliability): settings come from the environment.

Redis keys written by the tasks start with ``t:`` so tests can read the side effects.
The broker's visibility timeout is short here (10 s, restored every second) so that
messages left unacknowledged by a broker restart come back within a test's time; the
time limits stay ordered below it (soft 5 s < hard 8 s < 10 s).
"""

from __future__ import annotations

import os
import random
import signal
import time
import uuid

import redis

from stalwart import RetryPolicy, Stalwart

app = Stalwart("reliable")
app.conf.update(
    broker_transport_options={
        **app.conf.broker_transport_options,
        "visibility_timeout": 10,
        "unacked_restore_interval": 1,
        "unacked_restore_throttle": 1,
    },
    task_soft_time_limit=5,
    task_time_limit=8,
)

TIMING = RetryPolicy(
    max_retries=3,
    initial_delay=0.6,
    backoff=2.0,
    backoff_max=1.5,
    jitter=True,
    retry_on=(ConnectionError,),
    give_up_on=(ValueError,),
)


@app.task(bind=True, idempotency_key="count:{n}")
def count(self, n: int) -> int:
    """The exactly-once side effect: INCR t:effect:<n> through idempotent_pipeline()."""
    app.redis.incr(f"t:runs:{n}")
    time.sleep(random.uniform(0.002, 0.02))
    with self.idempotent_pipeline() as pipe:
        pipe.incr(f"t:effect:{n}")
    return n


@app.task(ignore_result=True, idempotency_key="quiet:{n}")
def quiet_count(n: int) -> int:
    """Idempotent, but its result is never written to the result backend."""
    app.redis.incr(f"t:quiet:{n}")
    return n


@app.task
def suicide(tag: str) -> None:
    """A poison task: counts its run, then SIGKILLs its own process."""
    app.redis.incr(f"t:suicide:{tag}")
    os.kill(os.getpid(), signal.SIGKILL)


@app.task
def tick() -> None:
    app.redis.incr("t:ticks")


@app.task(idempotency_key="dd:{key}")
def dedupe(key: str) -> str:
    """Runs 0.5 s; returns a value unique to the run, so callers can compare results."""
    app.redis.incr(f"t:dedupe-runs:{key}")
    time.sleep(0.5)
    return f"run-{uuid.uuid4().hex}"


@app.task(
    retry=RetryPolicy(
        max_retries=20, initial_delay=0.5, backoff_max=2.0, retry_on=(redis.RedisError,)
    )
)
def slow_record(i: int) -> int:
    time.sleep(0.2)
    app.redis.sadd("t:done", i)
    return i


@app.task(
    bind=True,
    idempotency_key="long:{i}",
    retry=RetryPolicy(max_retries=20, initial_delay=0.5, retry_on=(redis.RedisError,)),
)
def long_record(self: object, i: int) -> int:
    """Runs 3 s, then records its one effect exactly once (idempotent pipeline)."""
    app.redis.incr(f"t:long-runs:{i}")
    time.sleep(3.0)
    with self.idempotent_pipeline() as pipe:  # type: ignore[attr-defined]
        pipe.incr(f"t:long-effect:{i}")
    return i


@app.task(retry=TIMING)
def flaky(tag: str) -> None:
    app.redis.rpush(f"t:attempts:{tag}", repr(time.time()))
    raise ConnectionError(f"flaky {tag} failed")


@app.task(retry=TIMING)
def give_up(tag: str) -> None:
    app.redis.rpush(f"t:attempts:{tag}", repr(time.time()))
    raise ValueError(f"bad input {tag}")


@app.task(retry=RetryPolicy(max_retries=1, initial_delay=0.2, jitter=False))
def fixable(tag: str, password: str = "hunter2") -> str:
    """Fails until the Redis flag t:fixed is set; counts successful runs."""
    app.redis.rpush(f"t:attempts:{tag}", repr(time.time()))
    if not app.redis.get("t:fixed"):
        raise RuntimeError(f"{tag} is not fixed yet")
    app.redis.incr(f"t:fixed-runs:{tag}")
    return f"fixed {tag}"


@app.task(bind=True)
def steps(self, total: int) -> int:
    for done in range(1, total + 1):
        self.progress(done, total, f"step {done}")
    return total


@app.task
def pickled_target(path: str) -> None:
    """Would mark ``path`` if it ever ran (the pickle test checks it never does)."""
    app.redis.set("t:pickled-ran", path)
