"""Finding and checking processes for tests, by what they are rather than by pid order.

A pid is only trusted together with its command line: pids wrap around, so a child can
have a lower or higher pid than its parent, and any process whose command line merely
*mentions* a path (a client started with ``python -c "...path..."``) is not the process
that owns it.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "cmdline",
    "embedded_keeper",
    "embedded_server",
    "parent_of",
    "processes_using",
    "processes_with_env",
    "running",
]


def cmdline(pid: int) -> bytes | None:
    """The command line of ``pid`` (arguments joined by spaces), or None if it is gone."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return None


def running(pid: int) -> bool:
    """True if ``pid`` exists and is not a zombie (an exited child nobody reaped yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    state = stat.rsplit(")", 1)[1].split()[0]
    return state not in ("Z", "X")


def parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def processes_using(data_dir: Path) -> list[int]:
    """Running pids whose command line mentions ``data_dir`` (keeper, server, clients)."""
    pids = []
    needle = str(data_dir).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        line = cmdline(int(entry.name))
        if line and needle in line and running(int(entry.name)):
            pids.append(int(entry.name))
    return pids


def _pid_from(path: Path, marker: bytes) -> int | None:
    """The pid in ``path`` if that process is running and its command line has ``marker``."""
    try:
        pid = int(path.read_text().strip())
    except (OSError, ValueError):
        return None
    line = cmdline(pid)
    return pid if line is not None and marker in line and running(pid) else None


def embedded_keeper(data_dir: Path) -> int | None:
    """The live keeper of ``data_dir``: its own pid file, checked against its command line."""
    return _pid_from(data_dir / "keeper.pid", b"-m stalwart.embedded " + str(data_dir).encode())


def embedded_server(data_dir: Path) -> int | None:
    """The live ``valkey-server`` of ``data_dir`` (its pid file, checked)."""
    return _pid_from(data_dir / "valkey.pid", b"valkey-server")


def processes_with_env(entry: str) -> list[int]:
    """Running pids whose environment holds ``entry`` (``NAME=value``): every process a
    test started, with their children, when the test gave them a variable of its own."""
    pids = []
    needle = entry.encode() + b"\0"
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            environ = (proc / "environ").read_bytes() + b"\0"
        except OSError:
            continue
        if (b"\0" + environ).find(b"\0" + needle) >= 0 and running(int(proc.name)):
            pids.append(int(proc.name))
    return pids
