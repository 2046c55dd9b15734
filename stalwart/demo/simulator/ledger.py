"""The provider's books: every send it accepted (a JSON-lines file) and every attempt.

The ledger is the ground truth of the demo's account: a message is "sent once" when
exactly one line of the ledger carries its idempotency key. Each line is written and
flushed before the provider answers, so what the ledger says was sent, was sent.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = ["Attempt", "Ledger", "LedgerEntry", "read_ledger"]


@dataclass(frozen=True)
class LedgerEntry:
    id: str
    key: str
    sender: str
    to: str
    at: float  # on the calendar clock (CRM_CLOCK_OFFSET applied)
    real_at: float


@dataclass(frozen=True)
class Attempt:
    key: str
    sender: str
    outcome: str  # accepted | replayed | outage | rate_limited | invalid | carrier_error | ...
    at: float
    real_at: float


class Ledger:
    """Appends accepted sends to ``path``; keeps attempts in memory (``/sim/attempts``)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self._lock = threading.Lock()
        self.attempts: list[Attempt] = []
        self.outcomes: Counter[str] = Counter()

    def accept(self, entry: LedgerEntry) -> None:
        line = json.dumps(asdict(entry), separators=(",", ":"))
        with self._lock:
            self._file.write(line + "\n")
            self._file.flush()

    def attempt(self, attempt: Attempt) -> None:
        with self._lock:
            self.attempts.append(attempt)
            self.outcomes[attempt.outcome] += 1

    def attempts_since(self, index: int) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(a) for a in self.attempts[index:]]

    def close(self) -> None:
        with self._lock:
            self._file.close()


def read_ledger(path: Path) -> list[LedgerEntry]:
    """Every accepted send in ``path`` (a line cut by a crash is skipped)."""
    if not path.exists():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entries.append(LedgerEntry(**json.loads(line)))
        except (ValueError, TypeError):
            continue
    return entries
