"""Real ``stalwart`` processes (workers and others) in subprocesses, never leaked."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path

import redis

from stalwart.settings import Settings
from stalwart.worker.heartbeat import list_workers

ROOT = Path(__file__).resolve().parents[2]


def settings_env(settings: Settings) -> dict[str, str]:
    """The STALWART_* variables that reproduce ``settings`` in a subprocess."""
    env: dict[str, str] = {}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        if name == "console_token":
            env["STALWART_CONSOLE_TOKEN"] = settings.console_token.get_secret_value()  # type: ignore[union-attr]
            continue
        if name == "console_users":
            value = ";".join(f"{u['name']}:{u['role']}:{u['password_hash']}" for u in value)
        elif name == "redact":
            value = ",".join(value)
        env[f"STALWART_{name.upper()}"] = str(value)
    return env


def base_env(settings: Settings, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STALWART_")}
    env.update(settings_env(settings))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


class StalwartProcess:
    """A ``stalwart ...`` command running in its own process group."""

    def __init__(
        self, args: list[str], env: Mapping[str, str], log_path: Path, cwd: Path | None = None
    ) -> None:
        self.args = args
        self.log_path = log_path
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "stalwart.cli", *args],
            env=dict(env),
            cwd=str(cwd or ROOT),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.process.poll() is None

    def signal(self, signum: int) -> None:
        os.kill(self.process.pid, signum)

    def child_pids(self) -> list[int]:
        """Pids of this process's direct children (prefork pool processes)."""
        try:
            out = subprocess.run(
                ["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True, check=False
            ).stdout
        except FileNotFoundError:
            return []
        return [int(pid) for pid in out.split()]

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM, then SIGKILL the whole process group; never leaves a process behind."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        code = self.process.wait()
        self._log.close()
        return code

    def kill(self) -> None:
        """SIGKILL the main process only (children are left to notice, as in a crash)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def wait_for(
    condition: Callable[[], object], timeout: float = 30.0, interval: float = 0.05, what: str = ""
) -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what or condition}")
        time.sleep(interval)


class WorkerProcess(StalwartProcess):
    def __init__(self, hostname: str, client: redis.Redis, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.hostname = hostname
        self.client = client

    def wait_ready(self, timeout: float = 60.0) -> None:
        def ready() -> bool:
            if not self.alive():
                raise RuntimeError(f"worker exited early:\n{self.log()[-3000:]}")
            try:
                return any(w.hostname == self.hostname for w in list_workers(self.client))
            except (redis.ConnectionError, redis.BusyLoadingError):
                return False  # the embedded server may still be starting

        try:
            wait_for(ready, timeout, 0.1, f"worker {self.hostname} heartbeat")
        except TimeoutError:
            raise TimeoutError(f"worker not ready:\n{self.log()[-3000:]}") from None


def new_hostname(prefix: str = "w") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}@test"
