"""The beat loop: every tick, lead or stand by; as leader, fire each due slot exactly once.

Any number of beat processes may run. Each tick every process tries to take or refresh
the lease (:mod:`stalwart.scheduler.leader`); the one that holds it reloads the
schedules table (so CLI and console changes apply within a tick), works out the due
slots and each schedule's missed-run policy (:mod:`stalwart.scheduler.slots`), and for
each slot:

1. claims it with one Lua script that checks the fencing token and records the slot
   (and the fire, as *pending*) atomically: a process that cannot prove it still leads
   stops here, having fired nothing;
2. publishes it through Celery (``app.send_task``) with its slot id in the headers;
3. confirms it (drops it from *pending*).

A leader that dies between 1 and 3 leaves the fire pending; the next leader publishes
it again with the same slot id, and the worker-side idempotency key runs it once.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import redis
import sqlalchemy.exc

from stalwart.scheduler.fire import Fire, publish
from stalwart.scheduler.leader import Claim, Lease
from stalwart.scheduler.model import Schedule, from_ms, to_ms
from stalwart.scheduler.presence import remove_presence, write_presence
from stalwart.scheduler.slots import Clock, SystemClock, baseline, next_slot, plan
from stalwart.scheduler.store import list_schedules, record_slots

if TYPE_CHECKING:
    from stalwart.app import Stalwart

__all__ = ["Beat", "TickReport"]

log = logging.getLogger("stalwart.beat")


@dataclass
class TickReport:
    """What one tick did (for logs and tests)."""

    leader: bool = False
    fired: list[str] = field(default_factory=list)  # slot ids published
    republished: list[str] = field(default_factory=list)  # pending fires of earlier terms
    wait: float = 0.0  # seconds until the next tick should run


class _LostLeadership(Exception):
    pass


class Beat:
    """One beat process. ``run()`` loops until ``stop()``; tests drive ``tick()`` directly."""

    def __init__(
        self,
        app: Stalwart,
        *,
        client: redis.Redis | None = None,
        clock: Clock | None = None,
        tick: float = 1.0,
        lease: float = 10.0,
        grace: float | None = None,
        beat_id: str | None = None,
    ) -> None:
        if lease < 2 * tick:
            raise ValueError(f"the lease ({lease}s) must be at least two ticks ({tick}s)")
        self.app = app
        self.id = beat_id or uuid.uuid4().hex[:12]
        self.client = client if client is not None else app.redis
        self.clock: Clock = clock or SystemClock()
        self.tick_seconds = tick
        self.lease_seconds = lease
        # On-time window: covers a failover (lease + tick) so that no policy drops a
        # slot because the leader changed.
        self.grace = grace if grace is not None else lease + 2 * tick
        self.lease = Lease(self.client, lease, holder=self.id)
        self.started = time.time()
        self._stop = threading.Event()
        self._announced = False

    # -- the loop --------------------------------------------------------------------------

    def run(self) -> None:
        log.info(
            "beat %s started (tick %.2fs, lease %.2fs, grace %.2fs)",
            self.id,
            self.tick_seconds,
            self.lease_seconds,
            self.grace,
        )
        try:
            while not self._stop.is_set():
                report = self.tick()
                self._stop.wait(report.wait)
        finally:
            self.close()

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        """Give the lease up (a standby takes over at its next tick) and leave."""
        try:
            self.lease.release()
            remove_presence(self.client, self.id)
        except redis.RedisError as exc:
            log.warning("beat %s: could not release the lease: %s", self.id, exc)

    def tick(self) -> TickReport:
        report = TickReport(wait=self.tick_seconds)
        was_leader = self.lease.is_leader
        try:
            report.leader = self.lease.acquire()
        except redis.RedisError as exc:
            self.lease.lose()
            log.warning(
                "beat %s: coordination store unreachable (%s); firing nothing", self.id, exc
            )
            return report
        if report.leader != was_leader:
            role = "leader" if report.leader else "standby"
            log.info("beat %s is now %s (token %s)", self.id, role, self.lease.leader)
        elif not report.leader and not self._announced:
            # A beat that starts as standby says so (and who leads), once.
            token, _, holder = (self.lease.leader or "? ?").partition(" ")
            log.info(
                "beat %s is standby: beat %s leads (token %s); this one takes over within "
                "%.1fs if it stops",
                self.id,
                holder,
                token,
                self.lease_seconds + self.tick_seconds,
            )
        self._announced = True
        if report.leader:
            try:
                self._lead(report)
            except _LostLeadership:
                log.warning("beat %s lost the lease during a tick; stopped firing", self.id)
                report.leader = False
            except (redis.RedisError, sqlalchemy.exc.SQLAlchemyError) as exc:
                log.warning("beat %s: tick failed (%s); retrying next tick", self.id, exc)
            except Exception:  # a publish failure: the fire stays pending, re-sent next tick
                log.exception("beat %s: tick failed; retrying next tick", self.id)
        with contextlib.suppress(redis.RedisError):
            write_presence(
                self.client,
                self.id,
                leader=self.lease.is_leader,
                token=self.lease.token,
                started=self.started,
                lease=self.lease_seconds,
            )
        return report

    # -- leading ---------------------------------------------------------------------------

    def _lead(self, report: TickReport) -> None:
        now = self.clock.now()
        schedules = list_schedules(self.app.engine, enabled_only=True)
        state = self.lease.state()
        for name, payload in state.pending.items():
            result = self.lease.reclaim(name, payload)
            if result == Claim.NOT_LEADER:
                raise _LostLeadership
            if result == Claim.CLAIMED:
                fire = Fire.decode(payload)
                self._publish(fire, payload)
                report.republished.append(fire.slot_id)
        handled: dict[str, tuple[datetime, bool]] = {}
        try:
            for schedule in schedules:
                self._fire_due(schedule, state.last_ms.get(schedule.name), now, handled, report)
        finally:
            record_slots(self.app.engine, handled)
        report.wait = self._next_wait(schedules)

    def _fire_due(
        self,
        schedule: Schedule,
        last_ms: int | None,
        now: datetime,
        handled: dict[str, tuple[datetime, bool]],
        report: TickReport,
    ) -> None:
        done = baseline(schedule, from_ms(last_ms) if last_ms is not None else None)
        try:
            todo = plan(schedule, done, now, self.grace)
        except Exception:
            log.exception("schedule %s: cannot compute its slots; skipped", schedule.name)
            return
        if todo.missed_fired or todo.missed_dropped:
            log.info(
                "schedule %s: slots past the %.1fs grace; policy %s fires %d of them%s",
                schedule.name,
                self.grace,
                schedule.missed.value,
                todo.missed_fired,
                " and passes over the older ones" if todo.missed_dropped else "",
            )
        for slot in todo.fire:
            fire = Fire.for_slot(schedule, slot)
            payload = fire.encode()
            result = self.lease.claim(schedule.name, to_ms(slot), payload)
            if result == Claim.NOT_LEADER:
                raise _LostLeadership
            if result == Claim.CLAIMED:
                self._publish(fire, payload)
                report.fired.append(fire.slot_id)
                handled[schedule.name] = (slot, True)
        if todo.last is not None and (not todo.fire or todo.fire[-1] != todo.last):
            # Slots the policy passed over: mark them handled (fenced, like a fire).
            result = self.lease.claim(schedule.name, to_ms(todo.last), "")
            if result == Claim.NOT_LEADER:
                raise _LostLeadership
            if result == Claim.CLAIMED:
                fired = handled.get(schedule.name, (todo.last, False))[1]
                handled[schedule.name] = (todo.last, fired)

    def _publish(self, fire: Fire, payload: str) -> None:
        task_id = publish(self.app, fire)
        self.lease.confirm(fire.schedule, payload)
        log.info("fired %s -> %s[%s]", fire.slot_id, fire.task, task_id)

    def _next_wait(self, schedules: list[Schedule]) -> float:
        """Sleep until the next slot is due, but never longer than a tick."""
        now = self.clock.now()
        wait = self.tick_seconds
        for schedule in schedules:
            try:
                upcoming = next_slot(schedule, now)
            except Exception:
                continue
            if upcoming is not None:
                wait = min(wait, (upcoming - now).total_seconds())
        return max(0.001, wait)
