"""Fixtures shared by the whole suite: real Redis, real PostgreSQL, real worker processes."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import sqlalchemy as sa

from stalwart import Stalwart
from stalwart.settings import Settings
from tests.support.services import (
    POSTGRES_URL,
    REDIS_HOST,
    REDIS_PORT,
    claim_redis_db,
    missing,
)
from tests.support.workers import ROOT, WorkerProcess, base_env, new_hostname


@pytest.fixture(scope="session")
def redis_db() -> Iterator[int]:
    db, control = claim_redis_db()
    yield db
    redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=db).flushdb()
    control.delete(f"stalwart-test:claim:{db}")


@pytest.fixture
def redis_url(redis_db: int) -> str:
    """A Redis database of this test session's own, emptied before each test."""
    redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=redis_db).flushdb()
    return f"redis://{REDIS_HOST}:{REDIS_PORT}/{redis_db}"


@pytest.fixture
def redis_client(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url)


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """A PostgreSQL database of this session's own (created, dropped at the end)."""
    name = f"stalwart_t{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        missing("PostgreSQL", str(exc).splitlines()[0])
    url = sa.make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    yield url
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def postgres_url(postgres_server_url: str) -> str:
    """The session's PostgreSQL database, emptied (all tables dropped) before each test."""
    engine = sa.create_engine(postgres_server_url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    return postgres_server_url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Runs a test once per durable-store backend (the shared suite of each store)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'stalwart.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def make_settings(tmp_path: Path, redis_url: str) -> Callable[..., Settings]:
    """Settings for a test: its Redis database, a SQLite file in tmp, overridable."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "data_dir": tmp_path / "data",
            "broker_url": redis_url,
            "database_url": f"sqlite:///{tmp_path / 'stalwart.db'}",
        }
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
def migrated_app(settings: Settings) -> Iterator[Stalwart]:
    """An in-process app on the test's stores, its durable store at the current schema."""
    app = Stalwart("tests", settings=settings)
    app.ensure_schema()
    yield app
    app.engine.dispose()


@pytest.fixture
def start_worker(tmp_path: Path, settings: Settings) -> Iterator[Callable[..., WorkerProcess]]:
    """Start real ``stalwart worker`` subprocesses; all are stopped at teardown."""
    started: list[WorkerProcess] = []

    def start(
        app: str = "tests.apps.basic:app",
        *,
        settings: Settings = settings,
        args: tuple[str, ...] = ("-c", "2"),
        env: dict[str, str] | None = None,
        wait: bool = True,
        hostname: str | None = None,
    ) -> WorkerProcess:
        hostname = hostname or new_hostname()
        client = redis.Redis.from_url(settings.effective_redis_url)
        proc = WorkerProcess(
            hostname=hostname,
            client=client,
            args=["worker", "-A", app, "-n", hostname, "-l", "INFO", *args],
            env=base_env(settings, env),
            log_path=tmp_path / f"worker-{hostname.split('@')[0]}.log",
        )
        started.append(proc)
        if wait:
            proc.wait_ready()
        return proc

    yield start
    for proc in started:
        proc.stop()


@pytest.fixture
def run_cli(settings: Settings) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run ``stalwart ARGS`` in a subprocess with the test's settings."""

    def run(
        *args: str,
        settings: Settings = settings,
        env: dict[str, str] | None = None,
        input: str | None = None,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "stalwart.cli", *args],
            env=base_env(settings, env),
            cwd=str(ROOT),
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    return run
