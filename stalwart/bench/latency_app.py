"""The Stalwart side of ``stalwart bench latency``: a task that records how long after
its message was sent it started, with the ``bench overhead`` features on (retry policy,
dead letters, an idempotency key unique per call)."""

from __future__ import annotations

import os
import time

import redis

from stalwart import RetryPolicy, Stalwart

app = Stalwart("bench-latency")

_clients: dict[str, redis.Redis] = {}


@app.task(
    name="bench.stamp",
    retry=RetryPolicy(max_retries=3, retry_on=(ConnectionError,)),
    dead_letter=True,
    idempotency_key="bench:{key}:{sent}",
    idempotency_ttl=600,
)
def stamp(key: str, sent: float) -> None:
    """Push the seconds since ``sent`` onto the list ``key`` (the benchmark reads it)."""
    started = time.time() - sent
    url = os.environ["BENCH_STAMP_URL"]
    client = _clients.get(url) or _clients.setdefault(url, redis.Redis.from_url(url))
    client.rpush(key, repr(started))
