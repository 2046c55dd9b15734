"""The demo's workload, step by step: what a CRM's day looks like, with its accidents.

1. import the contacts CSV (a few thousand rows, some bad, some duplicated);
2. a few people text STOP (they must not get the campaigns);
3. launch two campaigns from two sender numbers: "customers" fits in a day's quota
   of 125 per number, "trial" does not (the rest is deferred to the next New York day);
4. the provider has an outage (503s: retries, then the breaker opens and sends wait);
5. a worker's child process is SIGKILLed mid-send (its message is redelivered and
   sent once: the idempotency key, here and at the provider);
6. the provider rate-limits us (429 + Retry-After: the sender's sends are deferred).

:meth:`Scenario.tick` advances the script without blocking (it is a generator that
yields while it waits), so the runner keeps its live view moving.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from stalwart.demo.models import campaigns, contacts
from stalwart.demo.run import DemoRun
from stalwart.demo.seed import contacts_csv

__all__ = ["DemoError", "Scenario"]

STOPS_PER_SEGMENT = 3
CAMPAIGNS = (
    ("Spring sale", "customers", "Hi {name}, our spring sale starts today. Reply STOP to opt out."),
    ("Trial ending", "trial", "Hi {name}, your trial ends Friday. Reply STOP to opt out."),
)


class DemoError(Exception):
    """The demo cannot go on (the message says what happened)."""


class Scenario:
    def __init__(
        self, run: DemoRun, engine: Engine, kill_worker_child: Callable[[], int | None]
    ) -> None:
        self.run = run
        self.engine = engine
        self.kill_worker_child = kill_worker_child
        self.api = httpx.Client(base_url=run.api_url, timeout=30)
        self.simulator = httpx.Client(base_url=run.simulator_url, timeout=10)
        self.done = False
        self._steps = self._script()

    def tick(self) -> None:
        """Advance the script as far as it can go now."""
        if not self.done and next(self._steps, StopIteration) is StopIteration:
            self.done = True

    def close(self) -> None:
        self.api.close()
        self.simulator.close()

    # -- the script ----------------------------------------------------------------------

    def _script(self) -> Iterator[None]:
        yield from self._import_contacts()
        yield from self._stops()
        for (name, segment, body), sender in zip(CAMPAIGNS, self.run.senders, strict=True):
            self._launch(name, segment, body, sender)
        yield from self._wait(2.0)
        self._incident("outage", 3.0, "provider outage: every send answered 503 for 3s")
        yield from self._wait(3.5)
        pid = self.kill_worker_child()
        if pid is None:
            self.run.note("no worker child to kill (skipped)")
        else:
            self.run.note(f"SIGKILL worker child {pid} of the campaigns worker, mid-send")
        yield from self._wait(1.5)
        self._incident("rate_limit", 2.0, "provider rate limit: 429 Retry-After 2s for 2s", 2.0)

    def _import_contacts(self) -> Iterator[None]:
        data = contacts_csv()
        files = {"file": ("contacts.csv", data, "text/csv")}
        started = self._call(self.api.post("/demo/imports", files=files))
        rows = data.count(b"\n") - 1
        self.run.note(f"import {started['id']}: uploaded contacts.csv ({rows} rows), validating")
        while True:
            status = self._call(self.api.get(f"/demo/imports/{started['id']}"))
            if status["status"] == "completed":
                break
            yield
        self.run.note(
            f"import {status['id']}: {status['created']} new, {status['updated']} updated, "
            f"{status['duplicates']} duplicates merged, {status['bad_rows']} bad rows "
            f"(first: line {status['errors'][0]['line']}: {status['errors'][0]['error']})"
            if status["errors"]
            else f"import {status['id']}: {status['created']} new, {status['updated']} updated"
        )

    def _stops(self) -> Iterator[None]:
        phones = []
        for (_, segment, _), sender in zip(CAMPAIGNS, self.run.senders, strict=True):
            for phone in self._contacts_of(segment, STOPS_PER_SEGMENT):
                self._call(
                    self.simulator.post(
                        "/sim/inbound", json={"from": phone, "to": sender, "body": "STOP"}
                    )
                )
                phones.append(phone)
        self.run.note(f"{len(phones)} people text STOP (signed webhooks, some delivered twice)")
        deadline = time.monotonic() + 20
        while self._opted_out(phones) < len(phones) and time.monotonic() < deadline:
            yield
        self.run.note(f"{self._opted_out(phones)} contacts opted out")

    def _launch(self, name: str, segment: str, body: str, sender: str) -> None:
        campaign = self._call(
            self.api.post(
                "/demo/campaigns",
                json={"name": name, "sender": sender, "body": body, "segment": segment},
            )
        )
        launched = self._call(self.api.post(f"/demo/campaigns/{campaign['id']}/launch"))
        self.run.campaign_ids.append(int(campaign["id"]))
        counts = launched["counts"]
        self.run.note(
            f"campaign {campaign['id']} {name!r} from {sender} launched: "
            f"{counts['queued']} sends enqueued through the outbox, "
            f"{counts['opted_out']} opted out"
        )

    def _incident(self, kind: str, seconds: float, text: str, retry_after: float = 1.0) -> None:
        payload = {"kind": kind, "seconds": seconds, "retry_after": retry_after}
        self._call(self.simulator.post("/sim/incidents", json=payload))
        self.run.note(text)

    @staticmethod
    def _wait(seconds: float) -> Iterator[None]:
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            yield

    # -- helpers -------------------------------------------------------------------------

    def _contacts_of(self, segment: str, count: int) -> list[str]:
        query = (
            sa.select(contacts.c.phone)
            .where(contacts.c.segment == segment, contacts.c.opted_out_at.is_(None))
            .order_by(contacts.c.id)
            .limit(count)
        )
        with self.engine.connect() as db:
            return list(db.execute(query).scalars())

    def _opted_out(self, phones: list[str]) -> int:
        query = sa.select(sa.func.count()).where(
            contacts.c.phone.in_(phones), contacts.c.opted_out_at.is_not(None)
        )
        with self.engine.connect() as db:
            return int(db.execute(query).scalar_one())

    @staticmethod
    def _call(answer: httpx.Response) -> Any:
        if answer.status_code >= 400:
            raise DemoError(
                f"{answer.request.method} {answer.request.url.path} answered "
                f"{answer.status_code}: {answer.text[:300]}"
            )
        return answer.json()


def next_senders(engine: Engine) -> tuple[str, str]:
    """Two sender numbers of this run's own (a day's quota is per number)."""
    with engine.connect() as db:
        last = db.execute(sa.select(sa.func.max(campaigns.c.id))).scalar() or 0
    base = (int(last) + 2) % 9000
    return f"+1646555{base:04d}", f"+1646555{base + 1:04d}"
