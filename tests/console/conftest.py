"""One real stack for the console tests: a worker, a beat and ``stalwart console``.

Package-scoped (started once for every console test) on a Redis database of its own
(claimed like the session's) and a SQLite file: the journeys share it, each with its
own task names and schedules, so they stay independent of one another.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from stalwart import Stalwart
from stalwart.console.auth import hash_password
from stalwart.settings import ConsoleUser, Settings
from tests.support.services import REDIS_HOST, REDIS_PORT, claim_redis_db, free_port
from tests.support.workers import StalwartProcess, WorkerProcess, base_env, new_hostname, wait_for

APP = "tests.apps.console:app"
TOKEN = "console-test-token"
PASSWORDS = {"ann": "ann-operator-pw", "vic": "vic-viewer-pw"}
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"


@dataclass
class Stack:
    url: str
    settings: Settings
    app: Stalwart
    redis: redis.Redis
    worker: WorkerProcess
    console: StalwartProcess
    beat: StalwartProcess

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kwargs)

    def api(self) -> httpx.Client:
        """An API client with the bearer token."""
        return self.client(headers={"Authorization": f"Bearer {TOKEN}"})

    def login(self, user: str) -> tuple[httpx.Client, str]:
        """A client with a session cookie of ``user``, and the session's CSRF token."""
        client = self.client()
        reply = client.post("/api/session", json={"username": user, "password": PASSWORDS[user]})
        assert reply.status_code == 200, reply.text
        return client, reply.json()["csrf_token"]


@contextlib.contextmanager
def claimed_redis() -> Iterator[str]:
    db, control = claim_redis_db()
    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=db)
    client.flushdb()
    try:
        yield f"redis://{REDIS_HOST}:{REDIS_PORT}/{db}"
    finally:
        client.flushdb()
        control.delete(f"stalwart-test:claim:{db}")


def console_settings(tmp: Path, redis_url: str, **overrides: Any) -> Settings:
    users = (
        ConsoleUser("ann", "operator", hash_password(PASSWORDS["ann"])),
        ConsoleUser("vic", "viewer", hash_password(PASSWORDS["vic"])),
    )
    values: dict[str, Any] = {
        "data_dir": tmp / "data",
        "broker_url": redis_url,
        "database_url": f"sqlite:///{tmp / 'stalwart.db'}",
        "console_token": TOKEN,
        "console_users": users,
    }
    values.update(overrides)
    return Settings(**values)


def start_console(
    settings: Settings, log: Path, app: str | None = APP
) -> tuple[StalwartProcess, str]:
    port = free_port()
    target = ["-A", app] if app else []
    proc = StalwartProcess(["console", *target, "--port", str(port)], base_env(settings), log)
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if not proc.alive():
            raise RuntimeError(f"console exited:\n{proc.log()[-3000:]}")
        with contextlib.suppress(httpx.HTTPError, socket.error):
            return httpx.get(url + "/healthz", timeout=2).status_code == 200
        return False

    wait_for(up, 60, 0.1, "console /healthz")
    return proc, url


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("console")
    with claimed_redis() as redis_url:
        settings = console_settings(tmp, redis_url)
        app = Stalwart("console-test-driver", settings=settings)
        app.ensure_schema()
        client = redis.Redis.from_url(redis_url)
        hostname = new_hostname("console")
        worker = WorkerProcess(
            hostname=hostname, client=client, env=base_env(settings),
            args=["worker", "-A", APP, "-n", hostname, "--pool", "threads", "-c", "6"],
            log_path=tmp / "worker.log",
        )  # fmt: skip
        beat = StalwartProcess(
            ["beat", "-A", APP, "--id", "console-beat", "--tick", "0.5", "--lease", "3"],
            base_env(settings), tmp / "beat.log",
        )  # fmt: skip
        console = None
        try:
            worker.wait_ready()
            console, url = start_console(settings, tmp / "console.log")
            yield Stack(url, settings, app, client, worker, console, beat)
        finally:
            for proc in (console, beat, worker):
                if proc is not None:
                    proc.stop()
            app.engine.dispose()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (never a downloaded browser build)."""
    if not Path(CHROMIUM).exists():
        from tests.support.services import missing

        missing("Chromium", f"{CHROMIUM} not found (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
