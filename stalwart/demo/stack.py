"""The demo's processes: started in their own process groups, stopped to the last one.

Each child runs in a new session (so Ctrl-C reaches only the demo, which then stops
the children), logs to a file in the run directory, and is stopped with SIGTERM to
its whole group (a worker's pool children, a beat's services), all groups at once so
their graceful shutdowns overlap, then SIGKILL for anything still alive after the
timeout. :meth:`Stack.stop` returns only
when every group is gone.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from stalwart.procgroup import group_alive

__all__ = ["Child", "Stack"]


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    log: IO[bytes]

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def tail(self, lines: int = 15) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


class Stack:
    """Children of the demo, each in a process group of its own."""

    def __init__(self, run_dir: Path, env: Mapping[str, str]) -> None:
        self.run_dir = run_dir
        self.env = dict(env)
        self.children: list[Child] = []

    def spawn(self, name: str, args: Sequence[str]) -> Child:
        """Start ``python ARGS`` as child ``name`` (log: ``<run dir>/<name>.log``)."""
        log_path = self.run_dir / f"{name}.log"
        log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        process = subprocess.Popen(
            [sys.executable, *args],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        child = Child(name, process, log_path, log)
        self.children.append(child)
        return child

    def exited(self) -> Child | None:
        """A child that stopped on its own (the demo cannot go on without it)."""
        return next((c for c in self.children if not c.alive()), None)

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM every group at once (each shuts down gracefully, in parallel), then
        wait for each; SIGKILL what is still there after ``timeout``."""
        for child in reversed(self.children):  # a dead leader may leave its group behind
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for child in reversed(self.children):
            _reap_group(child, deadline)
            child.log.close()
        self.children.clear()


def _reap_group(child: Child, deadline: float) -> None:
    pgid = child.pid
    with contextlib.suppress(subprocess.TimeoutExpired):
        child.process.wait(max(0.0, deadline - time.monotonic()))
    while group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)  # children finishing their own shutdown after the leader
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
    child.process.wait()
    settled = time.monotonic() + 5  # SIGKILLed members are reaped by init in moments
    while group_alive(pgid) and time.monotonic() < settled:
        time.sleep(0.01)
