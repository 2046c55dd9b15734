"""`stalwart health` reports every component, and exits 1 when one is down."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from stalwart.settings import Settings
from tests.support.services import RedisServer
from tests.support.workers import WorkerProcess

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis", appendonly=False)
    server.start()
    yield server
    server.kill()


def checks(result: subprocess.CompletedProcess[str]) -> dict[str, dict[str, object]]:
    report = json.loads(result.stdout)
    return {check["name"]: check for check in report["checks"]}


def test_health_is_ok_with_a_worker_and_fails_when_redis_stops(
    own_redis: RedisServer,
    make_settings: Callable[..., Settings],
    start_worker: Callable[..., WorkerProcess],
    run_cli: Run,
) -> None:
    settings = make_settings(broker_url=own_redis.url)
    start_worker(settings=settings)  # also brings the SQLite schema up to date

    healthy = run_cli("health", "--json", settings=settings)
    assert healthy.returncode == 0, healthy.stdout
    assert all(check["ok"] for check in checks(healthy).values())

    own_redis.stop()
    broken = run_cli("health", "--json", settings=settings)
    assert broken.returncode == 1
    by_name = checks(broken)
    for component in ("broker", "coordination", "workers"):
        assert by_name[component]["ok"] is False, by_name[component]
    assert "is unreachable" in str(by_name["broker"]["detail"])
    assert by_name["database"]["ok"] is True

    table = run_cli("health", settings=settings)
    assert table.returncode == 1
    assert "FAIL" in table.stdout


def test_health_says_to_upgrade_an_old_schema(
    make_settings: Callable[..., Settings], run_cli: Run, postgres_url: str
) -> None:
    settings = make_settings(database_url=postgres_url)
    result = run_cli("health", "--json", settings=settings)
    assert result.returncode == 1
    assert "run 'stalwart db upgrade'" in str(checks(result)["database"]["detail"])
