"""Where the embedded server keeps its files inside the data directory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["EmbeddedPaths"]


@dataclass(frozen=True)
class EmbeddedPaths:
    data_dir: Path
    socket: Path

    @property
    def users(self) -> Path:
        return self.data_dir / "users"

    @property
    def keeper_lock(self) -> Path:
        """Held exclusively by the live keeper process."""
        return self.data_dir / "keeper.lock"

    @property
    def start_lock(self) -> Path:
        """Serialises starting and stopping, so neither races with a new user."""
        return self.data_dir / "start.lock"

    @property
    def keeper_pid(self) -> Path:
        """The live keeper's process id (written once it holds :attr:`keeper_lock`)."""
        return self.data_dir / "keeper.pid"

    @property
    def server_pid(self) -> Path:
        return self.data_dir / "valkey.pid"

    @property
    def config(self) -> Path:
        return self.data_dir / "valkey.conf"

    @property
    def keeper_log(self) -> Path:
        return self.data_dir / "keeper.log"

    @property
    def server_log(self) -> Path:
        return self.data_dir / "valkey.log"
