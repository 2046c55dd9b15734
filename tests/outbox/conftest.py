"""Fixtures of the outbox tests: settings on either durable store, a client app."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from types import SimpleNamespace

import pytest
import redis

from stalwart import Stalwart
from stalwart.db.migrate import upgrade
from stalwart.settings import Settings
from tests.outbox.app import orders, register, runs_key

APP = "tests.outbox.app:app"


@pytest.fixture
def settings(make_settings: Callable[..., Settings], database_url: str) -> Settings:
    """Every outbox test runs on SQLite and on PostgreSQL (the outbox is SQL)."""
    return make_settings(database_url=database_url)


@pytest.fixture
def client_app(settings: Settings) -> Iterator[Stalwart]:
    app = Stalwart("outbox-client", settings=settings)
    upgrade(app.engine)
    orders.metadata.create_all(app.engine)
    yield app
    app.engine.dispose()


@pytest.fixture
def tasks(client_app: Stalwart) -> SimpleNamespace:
    return register(client_app)


@pytest.fixture
def runs(redis_client: redis.Redis) -> Callable[[str], int]:
    """How many times the body of a test task ran for ``key``."""

    def count(key: str) -> int:
        return int(redis_client.get(runs_key(key)) or 0)

    return count
