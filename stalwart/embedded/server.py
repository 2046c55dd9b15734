"""Attach this process to the embedded server of a data directory, starting it if needed."""

from __future__ import annotations

import atexit
import fcntl
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import redis

from stalwart.embedded.keeper import send_shutdown
from stalwart.embedded.paths import EmbeddedPaths
from stalwart.embedded.users import UserRegistration, live_users, register
from stalwart.errors import EmbeddedServerError
from stalwart.settings import Settings

__all__ = ["EmbeddedServer", "attach"]

START_TIMEOUT = 15.0
OTHER_USERS_GRACE = 3.0  # seconds detach(wait) waits for other users to exit


class EmbeddedServer:
    """A process's attachment to the embedded server; :meth:`detach` ends it."""

    def __init__(self, paths: EmbeddedPaths, registration: UserRegistration) -> None:
        self.paths = paths
        self._registration = registration

    @property
    def socket(self) -> Path:
        return self.paths.socket

    def detach(self, wait: float = 0.0) -> None:
        """Stop being a user; the keeper stops the server once nobody is left.

        With ``wait`` > 0, wait up to that many seconds for the keeper (and so the
        server) to be gone, so a command can exit leaving nothing. Other users that are
        still exiting (a worker's last children) are waited for; users that stay longer
        than :data:`OTHER_USERS_GRACE` are not: the server is theirs to keep.
        """
        self._registration.release()
        if wait <= 0:
            return
        deadline = time.monotonic() + wait
        others_since: float | None = None
        while _keeper_alive(self.paths) and time.monotonic() < deadline:
            if live_users(self.paths.users):
                others_since = others_since or time.monotonic()
                if time.monotonic() - others_since > OTHER_USERS_GRACE:
                    return
            else:
                others_since = None
            time.sleep(0.05)


_attached: dict[Path, EmbeddedServer] = {}


def attach(settings: Settings) -> EmbeddedServer:
    """Make sure the embedded server of ``settings.data_dir`` runs and count this process in.

    Idempotent per process and data directory. The registration is released at exit;
    if the process is killed, the kernel releases it.
    """
    paths = EmbeddedPaths(data_dir=settings.data_dir.resolve(), socket=settings.embedded_socket)
    existing = _attached.get(paths.data_dir)
    if existing is not None and existing._registration.path.exists():
        return existing
    try:
        paths.data_dir.mkdir(parents=True, exist_ok=True)
        registration = register(paths.users)
    except OSError as exc:
        raise EmbeddedServerError(
            f"cannot use STALWART_DATA_DIR '{settings.data_dir}': {exc}"
        ) from None
    server = EmbeddedServer(paths, registration)
    try:
        with open(paths.start_lock, "a+b") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            if not _keeper_alive(paths):
                _stop_orphan_server(paths)
                _spawn_keeper(paths, settings.embedded_idle_seconds)
        _wait_ready(paths)
    except BaseException:
        registration.release()
        raise
    _attached[paths.data_dir] = server
    atexit.register(server.detach)
    return server


def _keeper_alive(paths: EmbeddedPaths) -> bool:
    with open(paths.keeper_lock, "a+b") as lock:
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
        return False


def _stop_orphan_server(paths: EmbeddedPaths) -> None:
    """A server left behind by a keeper that was killed: shut it down before starting anew."""
    try:
        pid = int(paths.server_pid.read_text().strip())
    except (FileNotFoundError, ValueError):
        return
    if not _is_valkey(pid):
        paths.server_pid.unlink(missing_ok=True)
        return
    if not send_shutdown(paths.socket):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while _is_valkey(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _is_valkey(pid):
        os.kill(pid, signal.SIGKILL)
    paths.server_pid.unlink(missing_ok=True)


def _is_valkey(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True  # no /proc (macOS): trust the pid file
    return b"valkey-server" in cmdline


def _spawn_keeper(paths: EmbeddedPaths, idle_seconds: float) -> None:
    with open(paths.keeper_log, "ab") as log:
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "stalwart.embedded",
                str(paths.data_dir),
                str(paths.socket),
                str(idle_seconds),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            close_fds=True,
        )
    deadline = time.monotonic() + START_TIMEOUT
    while not _keeper_alive(paths):
        if time.monotonic() > deadline:
            raise EmbeddedServerError(
                f"the embedded server keeper did not start; see {paths.keeper_log}"
            )
        time.sleep(0.02)


def _wait_ready(paths: EmbeddedPaths) -> None:
    client = redis.Redis(unix_socket_path=str(paths.socket), socket_timeout=2)
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            if client.ping():
                return
        except redis.BusyLoadingError:
            pass  # loading the append-only file
        except (redis.ConnectionError, redis.TimeoutError, FileNotFoundError):
            pass
        if time.monotonic() > deadline:
            raise EmbeddedServerError(
                f"the embedded server on {paths.socket} did not answer within "
                f"{START_TIMEOUT:.0f}s; see {paths.server_log} and {paths.keeper_log}"
            )
        time.sleep(0.05)
