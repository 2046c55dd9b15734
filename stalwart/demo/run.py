"""One demo run: where its parts listen, what it launched, and what happened when."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from stalwart.demo.config import CrmConfig

__all__ = ["DemoRun", "Moment"]


@dataclass(frozen=True)
class Moment:
    at: float  # seconds since the run started
    text: str


@dataclass
class DemoRun:
    run_dir: Path
    config: CrmConfig
    api_url: str
    simulator_url: str
    console_url: str | None = None
    senders: tuple[str, str] = ("", "")
    campaign_ids: list[int] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    started_wall: float = field(default_factory=time.time)
    timeline: list[Moment] = field(default_factory=list)

    @property
    def ledger_path(self) -> Path:
        return self.run_dir / "provider-ledger.jsonl"

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def note(self, text: str) -> Moment:
        moment = Moment(round(self.elapsed, 1), text)
        self.timeline.append(moment)
        return moment
