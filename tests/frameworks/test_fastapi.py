"""FastAPI in front of Stalwart tasks: routes enqueue, a real worker runs them once."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterator
from types import ModuleType

import pytest
from fastapi.testclient import TestClient

from stalwart.settings import Settings
from tests.support.workers import WorkerProcess, settings_env, wait_for

MODULE = "tests.frameworks.fastapi_app"


@pytest.fixture
def example(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The example module, imported as a web process imports it: settings from the env."""
    for name, value in settings_env(settings).items():
        monkeypatch.setenv(name, value)
    sys.modules.pop(MODULE, None)
    module = importlib.import_module(MODULE)
    yield module
    sys.modules.pop(MODULE, None)


def test_routes_enqueue_and_a_worker_runs_each_signup_once(
    example: ModuleType, start_worker: Callable[..., WorkerProcess]
) -> None:
    start_worker(f"{MODULE}:tasks", args=("-c", "1"))
    with TestClient(example.api) as client:
        first = client.post("/signup", json={"user_id": 7, "email": "ann@example.com"})
        again = client.post("/signup", json={"user_id": 7, "email": "ann@example.com"})
        assert first.status_code == again.status_code == 202
        ids = [first.json()["task_id"], again.json()["task_id"]]
        assert ids[0] != ids[1]

        def done() -> list[dict[str, object]] | None:
            states = [client.get(f"/tasks/{task_id}") for task_id in ids]
            if any(s.status_code != 200 or s.json()["state"] != "SUCCESS" for s in states):
                return None
            return [s.json() for s in states]

        finished = wait_for(done, 30, 0.2, "both signups answered")
        # One run: the duplicate answers with the first run's result, which names the
        # task that ran (idempotency key welcome:7).
        sent = f"welcome sent to ann@example.com by {ids[0]}"
        assert finished == [{"state": "SUCCESS", "result": sent}] * 2
        assert client.post("/signup", json={"user_id": "x"}).status_code == 422
