"""When a schedule is due: slot instants per kind and zone, and the missed-run policies.

Crontab expressions are evaluated in the schedule's own zone. ``croniter`` walks the
*wall clock* (naive local times: the calendar, with no DST in it) and ``zoneinfo`` maps
each wall time to UTC. Two rules make DST changes fire each slot exactly once:

- a wall time that does not exist (spring forward, the skipped hour) fires at the same
  wall time in the offset before the change (02:30 -> 03:30 new time), once;
- a wall time that occurs twice (fall back, the doubled hour) fires at its first
  occurrence only, unless the hour field is a wildcard (``*``, ``*/2``...): jobs that run
  every hour or more often keep their real-time rhythm through the doubled hour.

Both are what Vixie cron and PEP 495 (``fold=0``) do. croniter alone, given aware
datetimes, fires a Berlin 02:30 job twice on the fall-back day; hence the wall walk.
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from croniter import croniter

from stalwart.scheduler.model import MissedPolicy, Schedule, ScheduleKind, check_zone

__all__ = [
    "Clock",
    "Plan",
    "SystemClock",
    "next_slot",
    "plan",
    "slots_before",
    "upcoming_slots",
]

# DST changes move wall time by at most a few hours; instants generated from the wall
# walk are out of order by at most this much, so a window of it sorts them.
_DISORDER = timedelta(hours=3)
_CRON_ALIASES = {
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}


class Clock(Protocol):
    """Where the scheduler gets 'now' and how it waits (injected in tests)."""

    def now(self) -> datetime:
        """The current instant, timezone-aware UTC."""

    def sleep(self, seconds: float) -> None:
        """Wait (tests advance a manual clock instead)."""


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))


# -- slot instants per kind ----------------------------------------------------------------


def upcoming_slots(schedule: Schedule, after: datetime, count: int) -> list[datetime]:
    """The next ``count`` slots strictly after ``after`` (fewer if it stops firing)."""
    if schedule.kind is ScheduleKind.CRON:
        instants = _cron_instants(schedule, after, forward=True)
        return [slot for _, slot in zip(range(count), instants, strict=False)]
    slots: list[datetime] = []
    while len(slots) < count:
        upcoming = next_slot(schedule, slots[-1] if slots else after)
        if upcoming is None:
            break
        slots.append(upcoming)
    return slots


def next_slot(schedule: Schedule, after: datetime) -> datetime | None:
    """The first slot strictly after ``after`` (None: the schedule never fires again)."""
    if schedule.kind is ScheduleKind.AT:
        return schedule.at if schedule.at is not None and schedule.at > after else None
    if schedule.kind is ScheduleKind.INTERVAL:
        every = timedelta(seconds=schedule.every or 1)
        anchor = schedule.active_since
        if after < anchor:
            return anchor + every
        steps = math.floor((after - anchor) / every) + 1
        return anchor + steps * every
    return next(_cron_instants(schedule, after, forward=True), None)


def slots_before(schedule: Schedule, until: datetime) -> Iterator[datetime]:
    """Slots at or before ``until``, newest first (ends at the schedule's start)."""
    if schedule.kind is ScheduleKind.AT:
        if schedule.at is not None and schedule.at <= until:
            yield schedule.at
        return
    if schedule.kind is ScheduleKind.INTERVAL:
        every = timedelta(seconds=schedule.every or 1)
        anchor = schedule.active_since
        if until < anchor + every:
            return
        slot = anchor + math.floor((until - anchor) / every) * every
        while slot > anchor:
            yield slot
            slot -= every
        return
    yield from _cron_instants(schedule, until, forward=False)


def _cron_instants(schedule: Schedule, start: datetime, forward: bool) -> Iterator[datetime]:
    """Cron slots after ``start`` (forward) or at/before it (backward), in order."""
    expression = _CRON_ALIASES.get((schedule.cron or "").lower(), schedule.cron or "")
    zone = check_zone(schedule.timezone or "UTC")
    fields = expression.split()
    both_folds = len(fields) >= 2 and "*" in fields[1]
    wall_start = start.astimezone(zone).replace(tzinfo=None)
    wall_start = wall_start - _DISORDER if forward else wall_start + _DISORDER
    walker = croniter(expression, wall_start)
    step = walker.get_next if forward else walker.get_prev
    pending: list[tuple[float, datetime]] = []
    sign = 1 if forward else -1
    last: datetime | None = None
    while True:
        wall: datetime = step(datetime)
        for instant in _instants(wall, zone, both_folds):
            heapq.heappush(pending, (sign * instant.timestamp(), instant))
        # The newest generated instant bounds what can still arrive out of order.
        frontier = wall.replace(tzinfo=zone).astimezone(UTC)
        while pending and sign * (frontier - pending[0][1]) > _DISORDER:
            _, instant = heapq.heappop(pending)
            in_range = instant > start if forward else instant <= start
            if in_range and instant != last:
                last = instant
                yield instant


def _instants(wall: datetime, zone: object, both_folds: bool) -> list[datetime]:
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)  # type: ignore[arg-type]
    second = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)  # type: ignore[arg-type]
    if first == second:
        return [first]
    exists = first.astimezone(zone).replace(tzinfo=None) == wall  # type: ignore[arg-type]
    if not exists:  # spring forward: fold=0 is the pre-change offset, i.e. shifted later
        return [first]
    return [first, second] if both_folds else [first]


# -- missed-run policies -------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """What the leader does for one schedule now: fire these slots, then mark ``last``."""

    fire: tuple[datetime, ...]
    last: datetime | None  # newest due slot (fired or passed over); None: nothing due
    missed_fired: int = 0  # slots past the grace period that are fired anyway
    missed_dropped: bool = False  # some slots past the grace period are not fired


def baseline(schedule: Schedule, last_fired: datetime | None) -> datetime | None:
    """Slots at or before this instant are done (fired, skipped, or before activation)."""
    candidates = [t for t in (last_fired, schedule.last_slot) if t is not None]
    if schedule.kind is not ScheduleKind.AT:
        candidates.append(schedule.active_since)
    return max(candidates) if candidates else None


def plan(schedule: Schedule, done: datetime | None, now: datetime, grace: float) -> Plan:
    """Apply the schedule's missed-run policy to the slots in (done, now].

    A slot is on time while ``now - slot <= grace``; on-time slots always fire. Of the
    older (missed) ones ``skip`` fires none, ``run_once`` the newest, ``catch_up`` the
    newest ``catch_up_max``, oldest first.
    """
    limit = {
        MissedPolicy.SKIP: 0,
        MissedPolicy.RUN_ONCE: 1,
        MissedPolicy.CATCH_UP: schedule.catch_up_max,
    }[schedule.missed]
    cutoff = now - timedelta(seconds=grace)
    on_time: list[datetime] = []
    missed: list[datetime] = []
    newest: datetime | None = None
    dropped = False
    for slot in slots_before(schedule, now):
        if done is not None and slot <= done:
            break
        newest = newest or slot
        if slot >= cutoff:
            on_time.append(slot)
        elif len(missed) < limit:
            missed.append(slot)
        else:
            dropped = True  # older slots exist past the policy's limit: stop looking
            break
    return Plan(tuple(reversed(on_time + missed)), newest, len(missed), dropped)
