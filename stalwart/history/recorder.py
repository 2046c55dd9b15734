"""The recorder: turns the event stream into history rows (a Redis consumer group).

Every worker (and beat, console, demo) runs one :class:`Recorder` as a background
service; together they form the consumer group ``recorder`` on ``stalwart:events``, so
any one of them suffices and more share the load. Each round:

1. read a batch of new entries (``XREADGROUP``, blocking briefly);
2. write it in one transaction (:func:`~stalwart.history.writer.write_batch`,
   idempotent by ``(task_id, seq)``);
3. ``XACK`` only after the commit.

A recorder given a :class:`~stalwart.history.backoff.Backoff` (the one each worker
runs) skips its rounds, bounded, while the workers are saturated, and catches up after.

A recorder that dies mid-batch leaves its entries pending; after ``claim_idle`` seconds
another recorder takes them over (``XAUTOCLAIM``) and writes them again; the
idempotent write makes that harmless. A batch the database refuses (bad data) is
retried event by event, so one bad event cannot block the stream; if the database is
down, entries stay pending and are retried.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import redis
import sqlalchemy.exc
from sqlalchemy.engine import Engine

from stalwart.coordination import as_text
from stalwart.events import EVENT_STREAM, decode_entry
from stalwart.history.lag import RECORDER_GROUP
from stalwart.history.writer import StreamEvent, write_batch
from stalwart.services import Service

if TYPE_CHECKING:
    from stalwart.app import Stalwart
    from stalwart.history.backoff import Backoff

__all__ = ["GROUP", "Recorder"]

log = logging.getLogger("stalwart.history.recorder")

GROUP = RECORDER_GROUP  # named in .lag, which reads it without importing the recorder
CONSUMER_FORGET_MS = 3_600_000
Entry = tuple[bytes, dict[bytes, bytes]]


class Recorder(Service):
    """One consumer of the ``recorder`` group, writing history into ``engine``."""

    name = "recorder"
    interval = 0.5  # accumulate: one commit per ~0.5 s of events, not per few events

    def __init__(
        self,
        client: redis.Redis,
        engine: Engine,
        *,
        batch: int = 1000,
        block_ms: int = 1000,
        claim_idle: float = 30.0,
        claim_every: float = 5.0,
        consumer: str | None = None,
        on_batch: Callable[[str, list[Entry]], None] | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self.client = client
        self.engine = engine
        self.batch = batch
        self.block_ms = block_ms
        self.claim_idle = claim_idle
        self.claim_every = claim_every
        self.consumer = consumer or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        # Test hook: called at "read" and "committed" (fault injection, benchmarks).
        self.on_batch = on_batch
        self.backoff = backoff
        self._group_ready = False
        self._next_claim = 0.0
        self._own_pending = True  # first round: re-read what this consumer left pending
        self.recorded = 0

    @classmethod
    def for_app(cls, app: Stalwart, **options: Any) -> Recorder:
        return cls(app.redis, app.engine, **options)

    # -- the service ------------------------------------------------------------------

    def tick(self) -> None:
        """Claim dead consumers' entries now and then; then record new entries (unless
        the backoff says to yield this round)."""
        self._ensure_group()
        if self.backoff is not None and self.backoff.should_yield():
            return
        if time.monotonic() >= self._next_claim:
            self._next_claim = time.monotonic() + self.claim_every
            self.claim()
        if self._own_pending:
            self._own_pending = self._record(self._read("0")) == self.batch
        deadline = time.monotonic() + 2.0  # stay responsive to stop()
        while time.monotonic() < deadline:
            if self._record(self._read(">")) < self.batch:
                break

    def drain(self, timeout: float = 60.0) -> int:
        """Record until nothing is left to read (tests, benchmarks); returns entries."""
        self._ensure_group()
        total, deadline = 0, time.monotonic() + timeout
        while time.monotonic() < deadline:
            count = self._record(self._read("0")) + self._record(self._read(">", block=False))
            total += count
            if count == 0:
                return total
        return total

    def claim(self) -> int:
        """Take over entries other consumers left pending for ``claim_idle`` seconds."""
        claimed, start = 0, "0-0"
        idle_ms = int(self.claim_idle * 1000)
        while True:
            reply = self.client.xautoclaim(
                EVENT_STREAM, GROUP, self.consumer, idle_ms, start, count=self.batch
            )
            start, entries = as_text(reply[0]), reply[1]
            deleted = reply[2] if len(reply) > 2 else []
            if deleted:  # trimmed from the stream before anyone recorded them
                self.client.xack(EVENT_STREAM, GROUP, *deleted)
                log.warning("%d stream entries were trimmed before being recorded", len(deleted))
            entries = [e for e in entries if e and e[1]]
            if entries:
                log.info("recorder %s claimed %d pending events", self.consumer, len(entries))
                claimed += self._record(entries)
            if start == "0-0":
                self._forget_idle_consumers()
                return claimed

    def _forget_idle_consumers(self) -> None:
        # Each worker process is a new consumer name; drop those gone for an hour
        # that have nothing pending (pending ones are claimed above first).
        for info in self.client.xinfo_consumers(EVENT_STREAM, GROUP):
            name, pending, idle = as_text(info["name"]), info["pending"], info["idle"]
            if name != self.consumer and pending == 0 and idle > CONSUMER_FORGET_MS:
                self.client.xgroup_delconsumer(EVENT_STREAM, GROUP, name)

    # -- internals ----------------------------------------------------------------------

    def _ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            self.client.xgroup_create(EVENT_STREAM, GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    def _read(self, start: str, block: bool = True) -> list[Entry]:
        try:
            reply: Any = self.client.xreadgroup(
                GROUP,
                self.consumer,
                {EVENT_STREAM: start},
                count=self.batch,
                block=self.block_ms if block and start == ">" else None,
            )
        except redis.ResponseError as exc:
            if "NOGROUP" in str(exc):  # the stream was deleted: recreate the group
                self._group_ready = False
                self._ensure_group()
                return []
            raise
        if not reply:
            return []
        return [e for e in reply[0][1] if e and e[1]]

    def _record(self, entries: list[Entry]) -> int:
        if not entries:
            return 0
        if self.on_batch is not None:
            self.on_batch("read", entries)
        good = [event for entry in entries for event in _decode(entry)]
        try:
            with self.engine.begin() as db:
                write_batch(db, good)
        except sqlalchemy.exc.OperationalError:
            self._own_pending = True  # the database is away: keep them pending, retry
            raise
        except sqlalchemy.exc.DBAPIError:
            log.exception("writing %d events failed; retrying them one by one", len(good))
            self._write_one_by_one(good)
        if self.on_batch is not None:
            self.on_batch("committed", entries)
        self.client.xack(EVENT_STREAM, GROUP, *[entry[0] for entry in entries])
        self.recorded += len(good)
        return len(good)

    def _write_one_by_one(self, events: list[StreamEvent]) -> None:
        for event in events:
            try:
                with self.engine.begin() as db:
                    write_batch(db, [event])
            except sqlalchemy.exc.OperationalError:
                self._own_pending = True
                raise
            except sqlalchemy.exc.DBAPIError:
                log.exception("dropping unrecordable event %s of %s", event.seq, event.event)


def _decode(entry: Entry) -> list[StreamEvent]:
    entry_id, raw = entry
    try:
        events = decode_entry(raw)
    except (KeyError, ValueError, TypeError, UnicodeDecodeError):
        log.warning("skipping malformed stream entry %s: %r", as_text(entry_id), raw)
        return []
    return [StreamEvent(eid or as_text(entry_id), event) for eid, event in events]
