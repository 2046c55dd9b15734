"""Scheduler fixtures: an in-process app on the test's stores, a manual clock, fire counts."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis

from stalwart import Stalwart
from stalwart.scheduler.beat import Beat


class ManualClock:
    """An injected clock: time moves only when the test says so."""

    def __init__(self, start: datetime) -> None:
        self.current = start.astimezone(UTC)

    def now(self) -> datetime:
        return self.current

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)

    def set(self, instant: datetime) -> None:
        self.current = instant.astimezone(UTC)


@pytest.fixture
def app(migrated_app: Stalwart) -> Stalwart:
    """The scheduler test app bound to this test's Redis and SQLite file."""
    return migrated_app


@pytest.fixture
def make_beat(app: Stalwart) -> Callable[..., Beat]:
    def make(clock: ManualClock, **kwargs: Any) -> Beat:
        kwargs.setdefault("tick", 1.0)
        kwargs.setdefault("lease", 10.0)
        return Beat(app, clock=clock, **kwargs)

    return make


def published(client: redis.Redis, queue: str = "celery") -> list[dict[str, Any]]:
    """Messages waiting in a Redis-broker queue (the fires beat published), oldest first."""
    messages = []
    for raw in reversed(client.lrange(queue, 0, -1)):
        message = json.loads(raw)
        body = json.loads(base64.b64decode(message["body"]))
        messages.append({"headers": message["headers"], "args": body[0], "kwargs": body[1]})
    return messages


def slots_of(client: redis.Redis, schedule: str | None = None) -> list[str]:
    """The slot ids of published fires (optionally of one schedule), in publish order."""
    return [
        m["headers"]["stalwart_slot"]
        for m in published(client)
        if schedule is None or m["headers"]["stalwart_schedule"] == schedule
    ]


from tests.scheduler.support import start_beat  # noqa: E402, F401  (fixture)
