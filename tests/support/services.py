"""Real services for tests: Redis and PostgreSQL on this machine, isolated per test session.

A missing service skips the tests that need it locally, and fails them when ``CI=true``
(so CI can never pass by skipping everything).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import redis

REDIS_HOST = os.environ.get("STALWART_TEST_REDIS_HOST", "127.0.0.1")
REDIS_PORT = int(os.environ.get("STALWART_TEST_REDIS_PORT", "6379"))
POSTGRES_URL = os.environ.get(
    "STALWART_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing(service: str, why: str) -> None:
    """Skip locally, fail in CI."""
    message = f"{service} is not available: {why}"
    if IN_CI:
        pytest.fail(message + " (CI=true: a missing service is a failure)")
    pytest.skip(message)


def claim_redis_db() -> tuple[int, redis.Redis]:
    """Claim a Redis database number (1-15) for this test session.

    Several pytest sessions may run at once on one machine (developers in parallel);
    each gets its own database, claimed with SET NX in db 0 and released at the end.
    """
    try:
        control = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=0, socket_timeout=3)
        control.ping()
    except redis.RedisError as exc:
        missing("Redis", str(exc))
        raise
    for _ in range(600):
        for db in range(1, 16):
            if control.set(f"stalwart-test:claim:{db}", os.getpid(), nx=True, ex=7200):
                return db, control
        time.sleep(1)
    pytest.fail("no free Redis database (1-15) for this test session")
    raise AssertionError


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """A redis-server of the test's own, on its own port (to stop, restart, persist)."""

    def __init__(self, directory: Path, appendonly: bool = True) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            missing("redis-server binary", "not on PATH")
        self.binary = str(binary)
        self.directory = directory
        self.port = free_port()
        self.appendonly = appendonly
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.directory),
                "--appendonly",
                "yes" if self.appendonly else "no",
                "--save",
                "",
                "--logfile",
                str(self.directory / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except (redis.ConnectionError, redis.BusyLoadingError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        """Graceful SHUTDOWN (flushes the append-only file)."""
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(redis.ConnectionError):
            redis.Redis(port=self.port, socket_timeout=5).shutdown(nosave=True)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
