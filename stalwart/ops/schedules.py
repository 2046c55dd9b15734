"""Periodic schedules for people: a schedule as shown, building one from input, fire times.

``stalwart schedules`` and the console's /schedules both use these, so a schedule
reads and validates the same on a terminal and in a browser.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from stalwart.errors import ScheduleError
from stalwart.redaction import Redactor
from stalwart.scheduler.model import (
    DEFAULT_CATCH_UP_MAX,
    MissedPolicy,
    Schedule,
    ScheduleKind,
    ScheduleSpec,
    check_zone,
    parse_duration,
    parse_instant,
    slot_iso,
)
from stalwart.scheduler.slots import upcoming_slots
from stalwart.scheduler.store import check_fires

__all__ = ["build_spec", "fire_times", "schedule_dict"]

PREVIEW = 5


def build_spec(
    name: str,
    task: str,
    *,
    default_zone: str,
    cron: str | None = None,
    tz: str | None = None,
    every: str | None = None,
    at: str | None = None,
    args: list[Any] | None = None,
    kwargs: dict[str, Any] | None = None,
    queue: str | None = None,
    priority: int | None = None,
    missed: str = MissedPolicy.RUN_ONCE.value,
    catch_up_max: int = DEFAULT_CATCH_UP_MAX,
    paused: bool = False,
) -> ScheduleSpec:
    """A validated spec from what a person typed: exactly one of cron, every, at."""
    if sum(x is not None for x in (cron, every, at)) != 1:
        raise ScheduleError("give exactly one of --cron, --every or --at")
    if tz is not None and cron is None and at is None:
        raise ScheduleError("--tz applies to --cron and --at only")
    zone = tz or default_zone
    check_zone(zone)
    try:
        policy = MissedPolicy(missed)
    except ValueError:
        choices = ", ".join(p.value for p in MissedPolicy)
        raise ScheduleError(f"missed policy {missed!r} is unknown; use one of {choices}") from None
    options: dict[str, Any] = {}
    if queue:
        options["queue"] = queue
    if priority is not None:
        if not 0 <= priority <= 255:
            raise ScheduleError(f"priority must be between 0 and 255, not {priority}")
        options["priority"] = priority
    kind = ScheduleKind.CRON if cron else ScheduleKind.INTERVAL if every else ScheduleKind.AT
    return ScheduleSpec(
        name=name,
        task=task,
        kind=kind,
        cron=cron,
        timezone=zone if cron else None,
        every=parse_duration(every) if every else None,
        at=parse_instant(at, zone) if at else None,
        args=list(args or []),
        kwargs=dict(kwargs or {}),
        options=options,
        missed=policy,
        catch_up_max=catch_up_max,
        enabled=not paused,
    ).validate()


def fire_times(
    spec: ScheduleSpec, now: datetime | None = None, count: int = PREVIEW
) -> list[datetime]:
    """The next ``count`` slots of ``spec`` (a new schedule active from ``now``), UTC."""
    now = now or datetime.now(UTC)
    if isinstance(spec, Schedule):
        schedule, after = spec, max(now, spec.last_slot or now)
    else:
        check_fires(spec, now)
        schedule, after = Schedule(**{**asdict(spec), "active_since": now}), now
    return upcoming_slots(schedule, after, count)


def schedule_dict(
    schedule: Schedule,
    now: datetime,
    preview: int = 1,
    redactor: Redactor | None = None,
    function: Callable[..., Any] | None = None,
) -> dict[str, Any]:
    """A schedule as JSON; ``next_slots`` holds its next ``preview`` fire times.

    With a ``redactor``, arguments named in ``STALWART_REDACT`` are masked (positional
    ones through ``function``'s signature, the scheduled task when known).
    """
    args, kwargs = schedule.args, schedule.kwargs
    if redactor is not None:
        args, kwargs = redactor.call(args, kwargs, function)
    upcoming: list[datetime] = []
    if schedule.enabled:
        try:
            upcoming = fire_times(schedule, now, preview)
        except (ScheduleError, ValueError):
            upcoming = []
    zone = ZoneInfo(schedule.timezone or "UTC")
    return {
        "name": schedule.name,
        "task": schedule.task,
        "kind": schedule.kind.value,
        "timing": schedule.describe(),
        "cron": schedule.cron,
        "timezone": schedule.timezone,
        "every": schedule.every,
        "at": slot_iso(schedule.at) or None,
        "args": args,
        "kwargs": kwargs,
        "options": schedule.options,
        "enabled": schedule.enabled,
        "missed": schedule.missed.value,
        "catch_up_max": schedule.catch_up_max,
        "origin": schedule.origin.value,
        "last_slot": slot_iso(schedule.last_slot) or None,
        "last_fired_at": slot_iso(schedule.last_fired_at) or None,
        "next_slot": slot_iso(upcoming[0]) if upcoming else None,
        "next_slots": [slot_iso(t) for t in upcoming],
        "next_slots_local": [t.astimezone(zone).isoformat() for t in upcoming],
        "created_at": slot_iso(schedule.created_at),
    }
