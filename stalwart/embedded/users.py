"""Users of the embedded server: one exclusively locked file per process.

A live process holds ``flock(LOCK_EX)`` on its file for as long as it runs; the kernel
drops the lock when the process exits or is killed, so anyone can tell a dead user's
leftover file (its lock can be taken) from a live one (it cannot).
"""

from __future__ import annotations

import fcntl
import os
import uuid
from pathlib import Path
from typing import IO

__all__ = ["UserRegistration", "live_users", "register"]


class UserRegistration:
    """This process's claim on the embedded server; :meth:`release` gives it up."""

    def __init__(self, path: Path, handle: IO[bytes]) -> None:
        self.path = path
        self._handle: IO[bytes] | None = handle

    def release(self) -> None:
        if self._handle is None:
            return
        try:
            self.path.unlink(missing_ok=True)
        finally:
            self._handle.close()
            self._handle = None


def register(users_dir: Path) -> UserRegistration:
    """Register the calling process as a user (held until release or process exit)."""
    users_dir.mkdir(parents=True, exist_ok=True)
    path = users_dir / f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    handle = open(path, "wb")  # noqa: SIM115 - held for the life of the registration
    fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
    handle.write(str(os.getpid()).encode())
    handle.flush()
    return UserRegistration(path, handle)


def live_users(users_dir: Path) -> int:
    """Count live users, deleting the files of dead ones."""
    if not users_dir.exists():
        return 0
    alive = 0
    for path in users_dir.iterdir():
        try:
            with open(path, "rb") as handle:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    alive += 1
                    continue
                path.unlink(missing_ok=True)
        except FileNotFoundError:
            continue
    return alive
