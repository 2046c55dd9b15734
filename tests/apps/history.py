"""Tasks for the history tests: every outcome a timeline can show."""

from __future__ import annotations

import time
from typing import Any

from stalwart import RetryPolicy, Stalwart

app = Stalwart("history")


@app.task
def add(x: int, y: int) -> int:
    return x + y


@app.task
def tsum(values: list[int]) -> int:
    return sum(values)


@app.task
def record(key: str, value: str) -> str:
    """Append ``value`` to the Redis list ``key`` (what the tasks themselves count)."""
    app.redis.rpush(key, value)
    return value


@app.task
def boom(message: str) -> None:
    raise ValueError(message)


@app.task(bind=True, max_retries=2)
def flaky(self: Any, key: str, countdown: float = 0.2) -> str:
    """Fails until it has been retried twice (counted in Redis), then succeeds."""
    attempt = app.redis.incr(key)
    if attempt <= 2:
        raise self.retry(exc=ConnectionError(f"attempt {attempt}"), countdown=countdown)
    return "ok"


@app.task(bind=True, max_retries=5)
def retry_later(self: Any, countdown: float) -> None:
    raise self.retry(exc=TimeoutError("provider timeout"), countdown=countdown)


@app.task
def login(user: str, password: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"user": user, "token": "s3cr3t-token"}


@app.task
def sleep(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


@app.task(retry=RetryPolicy(max_retries=3, backoff=600, backoff_max=600, jitter=False))
def policy_retry() -> None:
    """Retried by Stalwart's RetryPolicy: a long delay goes to the durable schedule."""
    raise ConnectionError("gateway down")


@app.task(quota="1/d")
def once_a_day(n: int) -> int:
    """The second call of a day is deferred by the quota (to the durable schedule)."""
    return n
