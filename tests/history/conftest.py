"""Fixtures for the history tests: an app on the test's stores, history read back."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from stalwart import Stalwart
from stalwart.db.migrate import upgrade
from stalwart.events.buffer import flush_all
from stalwart.history.query import TaskDetail, get_task
from stalwart.settings import Settings
from tests.support.workers import wait_for

APP = "tests.apps.history:app"


@pytest.fixture
def client_app(settings: Settings) -> Iterator[Stalwart]:
    """A producer app with the test's settings and an upgraded schema."""
    app = Stalwart("client", settings=settings)
    upgrade(app.engine)
    yield app
    flush_all()
    app.engine.dispose()


@pytest.fixture
def wait_task(client_app: Stalwart) -> Callable[..., TaskDetail]:
    """Wait until history shows a task satisfying ``condition``; return it."""

    def wait(
        task_id: str, condition: Callable[[TaskDetail], Any], timeout: float = 30
    ) -> TaskDetail:
        found: list[TaskDetail] = []

        def check() -> bool:
            flush_all()
            try:
                task = get_task(client_app.engine, task_id)
            except LookupError:
                return False
            found[:] = [task]
            return bool(condition(task))

        try:
            wait_for(check, timeout, 0.1, f"history of {task_id}")
        except TimeoutError:
            raise AssertionError(f"history of {task_id} never matched; last: {found}") from None
        return found[0]

    return wait
