"""What the live view shows, read from the stores every half second.

Campaign counts come from the CRM's tables, the provider's side from the simulator,
and Stalwart's side (queues, workers, the breaker, the outbox) from Stalwart's own
query modules, the ones ``stalwart queues``/``workers``/``limits`` print.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import sqlalchemy as sa

from stalwart.app import Stalwart
from stalwart.demo.app import QUEUES
from stalwart.demo.models import campaigns, messages
from stalwart.demo.run import DemoRun
from stalwart.demo.tasks.sending import PROVIDER_BREAKER
from stalwart.history.brokers import QueueProbe, probe_for
from stalwart.limits.breaker import read_breaker
from stalwart.outbox import pending
from stalwart.worker.heartbeat import list_workers

__all__ = ["CampaignLine", "Observer", "Snapshot"]


@dataclass(frozen=True)
class CampaignLine:
    id: int
    name: str
    sender: str
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class Snapshot:
    campaigns: list[CampaignLine]
    provider: dict[str, Any]
    breaker: str
    queues: dict[str, int]
    workers: int
    outbox: int
    at: float = field(default_factory=time.time)


class Observer:
    """Takes snapshots and notes the breaker's changes in the run's timeline."""

    def __init__(self, app: Stalwart, run: DemoRun) -> None:
        self.app = app
        self.run = run
        self._simulator = httpx.Client(base_url=run.simulator_url, timeout=5)
        self._probe: QueueProbe = probe_for(app.settings)
        self._breaker = "closed"

    def snapshot(self) -> Snapshot:
        breaker = read_breaker(self.app.redis, PROVIDER_BREAKER.name, time.time())
        if breaker.state != self._breaker:
            self.run.note(f"breaker {PROVIDER_BREAKER.name} {breaker.state}")
            self._breaker = breaker.state
        return Snapshot(
            campaigns=self._campaigns(),
            provider=self.provider_stats(),
            breaker=breaker.state,
            queues={name: self._probe.state(name).depth for name in QUEUES},
            workers=len(list_workers(self.app.redis)),
            outbox=pending(self.app),
        )

    def provider_stats(self) -> dict[str, Any]:
        try:
            stats: dict[str, Any] = self._simulator.get("/sim/stats").json()
        except httpx.HTTPError:
            return {}
        return stats

    def _campaigns(self) -> list[CampaignLine]:
        if not self.run.campaign_ids:
            return []
        ids = self.run.campaign_ids
        counts: dict[int, Counter[str]] = {i: Counter() for i in ids}
        query = (
            sa.select(messages.c.campaign_id, messages.c.status, sa.func.count())
            .where(messages.c.campaign_id.in_(ids))
            .group_by(messages.c.campaign_id, messages.c.status)
        )
        with self.app.engine.connect() as db:
            for campaign_id, status, count in db.execute(query):
                counts[int(campaign_id)][str(status)] = int(count)
            rows = db.execute(sa.select(campaigns).where(campaigns.c.id.in_(ids))).mappings()
            return [
                CampaignLine(r["id"], r["name"], r["sender"], dict(counts[r["id"]]))
                for r in sorted(rows, key=lambda r: int(r["id"]))
            ]

    def close(self) -> None:
        self._simulator.close()
        self._probe.close()
