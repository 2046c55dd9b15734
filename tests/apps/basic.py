"""A small app for tests: settings come from the environment the test gives the worker."""

from __future__ import annotations

import os
import time

from stalwart import Stalwart

app = Stalwart("basic")


@app.task
def add(x: int, y: int) -> int:
    return x + y


@app.task
def record(key: str, value: str) -> str:
    """Append ``value`` to the Redis list ``key`` (the side effect tests count)."""
    app.redis.rpush(key, value)
    return value


@app.task
def sleep(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


@app.task
def whoami() -> int:
    return os.getpid()
