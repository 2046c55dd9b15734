"""Drives the demo: publishes a steady mix of tasks and tallies their outcomes."""

from __future__ import annotations

import itertools
import json
import random
import uuid
from collections import Counter
from dataclasses import dataclass, field

from stalwart.app import Stalwart

__all__ = ["Tally", "Workload"]

TERMINAL = ("SUCCESS", "FAILURE", "REVOKED")


@dataclass
class Tally:
    """Per task name: how many were sent, and how many ended in each state."""

    sent: Counter[str] = field(default_factory=Counter)
    ended: dict[str, Counter[str]] = field(default_factory=dict)

    def add_end(self, name: str, state: str) -> None:
        self.ended.setdefault(name, Counter())[state] += 1

    def rows(self) -> list[tuple[str, int, int, int, int]]:
        """(name, sent, succeeded, failed, in flight) per task name."""
        rows = []
        for name in sorted(self.sent):
            ended = self.ended.get(name, Counter())
            done = ended["SUCCESS"] + ended["FAILURE"] + ended["REVOKED"]
            rows.append(
                (name, self.sent[name], ended["SUCCESS"], ended["FAILURE"], self.sent[name] - done)
            )
        return rows


class Workload:
    """Each :meth:`step` publishes one round of work and collects finished results."""

    def __init__(self, app: Stalwart) -> None:
        self.app = app
        self.tally = Tally()
        self._pending: dict[str, str] = {}
        self._contacts = itertools.count(1)
        self._round = 0

    def step(self) -> None:
        self._round += 1
        for _ in range(8):
            contact = next(self._contacts)
            self._send("demo.send_sms", (1, contact, f"+1555{contact:07d}", "Hello from Stalwart"))
        if self._round % 3 == 0:
            for chunk in range(4):
                self._send("demo.import_chunk", (self._round, chunk, 25))
        for _ in range(random.randint(0, 3)):
            self._send("demo.handle_webhook", (uuid.uuid4().hex[:12], "message.delivered"))
        if self._round % 10 == 0:
            self._send("demo.provider_sync", ())
        self.collect()

    def _send(self, name: str, args: tuple[object, ...]) -> None:
        result = self.app.send_task(name, args=args)
        self._pending[result.id] = name
        self.tally.sent[name] += 1

    def collect(self) -> None:
        """Read the states of in-flight tasks from the result backend (one MGET)."""
        if not self._pending:
            return
        backend = self.app.backend
        ids = list(self._pending)
        raw = backend.client.mget([backend.get_key_for_task(task_id) for task_id in ids])
        for task_id, value in zip(ids, raw, strict=True):
            if value is None:
                continue
            state = json.loads(value).get("status")
            if state in TERMINAL:
                self.tally.add_end(self._pending.pop(task_id), state)

    @property
    def in_flight(self) -> int:
        return len(self._pending)
