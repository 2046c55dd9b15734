"""Fixtures of the flow-control tests: a client app with the test tasks registered."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
import redis

from stalwart import Stalwart
from stalwart.settings import Settings
from tests.apps.flow import register

APP = "tests.apps.flow:app"


@pytest.fixture
def client_app(settings: Settings) -> Stalwart:
    return Stalwart("flow-client", settings=settings)


@pytest.fixture
def tasks(client_app: Stalwart) -> SimpleNamespace:
    return register(client_app)


@pytest.fixture
def records(redis_client: redis.Redis) -> Callable[[str], list[dict[str, Any]]]:
    def read(name: str) -> list[dict[str, Any]]:
        return [json.loads(raw) for raw in redis_client.lrange(f"test:{name}", 0, -1)]

    return read
