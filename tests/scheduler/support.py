"""Real ``stalwart beat`` processes, a TCP proxy to cut one off from Redis, fire counting."""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import redis

from stalwart.scheduler.presence import list_beats
from stalwart.settings import Settings
from tests.apps.scheduled import FIRES_KEY
from tests.support.services import REDIS_HOST, REDIS_PORT
from tests.support.workers import StalwartProcess, base_env, wait_for


class BeatProcess(StalwartProcess):
    def __init__(self, beat_id: str, client: redis.Redis, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.id = beat_id
        self.client = client

    def wait_ready(self, timeout: float = 60.0) -> None:
        def ready() -> bool:
            if not self.alive():
                raise RuntimeError(f"beat exited early:\n{self.log()[-3000:]}")
            return any(b.id == self.id for b in list_beats(self.client))

        try:
            wait_for(ready, timeout, 0.1, f"beat {self.id} presence")
        except TimeoutError:
            raise TimeoutError(f"beat not ready:\n{self.log()[-3000:]}") from None


@pytest.fixture
def start_beat(tmp_path: Path, settings: Settings) -> Iterator[Callable[..., BeatProcess]]:
    """Start real ``stalwart beat`` subprocesses; all are stopped at teardown."""
    started: list[BeatProcess] = []

    def start(
        beat_id: str,
        *,
        app: str = "tests.apps.scheduled:app",
        args: tuple[str, ...] = ("--tick", "0.5", "--lease", "3"),
        env: dict[str, str] | None = None,
        wait: bool = True,
    ) -> BeatProcess:
        proc = BeatProcess(
            beat_id,
            redis.Redis.from_url(settings.effective_redis_url),
            args=["beat", "-A", app, "--id", beat_id, *args],
            env=base_env(settings, env),
            log_path=tmp_path / f"beat-{beat_id}.log",
        )
        started.append(proc)
        if wait:
            proc.wait_ready()
        return proc

    yield start
    for proc in started:
        with contextlib.suppress(ProcessLookupError):
            proc.signal(signal.SIGCONT)  # a stopped process cannot act on SIGTERM
        proc.stop()


@dataclass(frozen=True)
class Run:
    """One run of the test task, as the worker recorded it."""

    schedule: str
    slot: str
    ran_at: float

    @property
    def slot_time(self) -> float:
        text = self.slot.removeprefix("manual-").replace("Z", "+00:00")
        return datetime.fromisoformat(text).timestamp()


def worker_runs(client: redis.Redis, schedule: str | None = None) -> list[Run]:
    runs = []
    for raw in client.lrange(FIRES_KEY, 0, -1):
        data = json.loads(raw)
        name, _, slot = (data["slot"] or "").partition("@")
        if schedule is None or name == schedule:
            runs.append(Run(name, slot, data["ran_at"]))
    return runs


class TcpProxy:
    """Forwards to the test Redis; ``cut()`` holds traffic (a partition), ``heal()`` lets
    it through again, late, the way TCP retransmits after a network partition heals."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._open = threading.Event()
        self._open.set()
        self._closed = False
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, db: int) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def cut(self) -> None:
        self._open.clear()

    def heal(self) -> None:
        self._open.set()

    def close(self) -> None:
        self._closed = True
        self._open.set()
        for sock in [self.listener, *self._sockets]:
            with contextlib.suppress(OSError):
                sock.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
                upstream = socket.create_connection((REDIS_HOST, REDIS_PORT))
            except OSError:
                return
            self._sockets += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                self._open.wait()
                data = src.recv(65536)
                if not data:
                    break
                self._open.wait()
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


def kill_client_connections(client: redis.Redis, name: str) -> int:
    """CLIENT KILL every connection whose client name is ``name``; returns how many."""
    killed = 0
    for info in client.client_list():
        if info.get("name") == name:
            with contextlib.suppress(redis.ResponseError):
                client.client_kill_filter(_id=info["id"])
                killed += 1
    return killed
