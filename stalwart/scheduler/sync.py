"""Schedules defined in code (``app.conf.beat_schedule``, the Celery way), synced into SQL.

At start every beat process writes the app's ``beat_schedule`` into the schedules table,
marked ``origin = code``: new entries are added, changed ones updated (an operator's
pause is kept), entries gone from the code removed. A schedule of the same name added
through the CLI or console (``origin = database``) wins and is left alone, with a warning.

Accepted entry values, as in Celery: ``schedule`` is a number of seconds, a
``timedelta``, ``celery.schedules.schedule`` or ``celery.schedules.crontab`` (its ``tz``,
else the app's timezone); ``args``, ``kwargs``, ``options`` (queue, priority...). Two
Stalwart keys may be added: ``missed`` (skip / run_once / catch_up) and ``catch_up_max``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from stalwart.audit import record_action
from stalwart.errors import ScheduleError
from stalwart.scheduler.model import (
    DEFAULT_CATCH_UP_MAX,
    MissedPolicy,
    Origin,
    ScheduleKind,
    ScheduleSpec,
)
from stalwart.scheduler.store import spec_row
from stalwart.scheduler.tables import schedules

if TYPE_CHECKING:
    from stalwart.app import Stalwart

__all__ = ["SyncReport", "code_specs", "sync_code_schedules"]

log = logging.getLogger("stalwart.beat")
ACTOR = "code:beat_schedule"
_TIMING = ("kind", "cron", "timezone", "every_seconds", "at")


@dataclass
class SyncReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    shadowed: list[str] = field(default_factory=list)  # a database schedule has the name


def code_specs(app: Stalwart) -> dict[str, ScheduleSpec]:
    """``app.conf.beat_schedule`` as validated specs (ScheduleError names a bad entry)."""
    entries: Mapping[str, Any] = app.conf.beat_schedule or {}
    default_zone = str(app.conf.timezone or app.settings.timezone)
    specs = {}
    for name, entry in entries.items():
        try:
            specs[name] = _spec(name, dict(entry), default_zone).validate()
        except ScheduleError as exc:
            raise ScheduleError(f"app.conf.beat_schedule[{name!r}]: {exc}") from None
    return specs


def sync_code_schedules(app: Stalwart, now: datetime | None = None) -> SyncReport:
    """Bring the table in line with the code. Safe to run from several beats at once."""
    specs = code_specs(app)
    known = set(app.tasks.keys())
    for name, spec in specs.items():
        if spec.task not in known:
            log.warning("beat_schedule[%r]: task %r is not registered in this app", name, spec.task)
    for attempt in range(3):
        try:
            return _sync(app, specs, now or datetime.now(UTC))
        except IntegrityError:  # another beat inserted the same name concurrently
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _sync(app: Stalwart, specs: Mapping[str, ScheduleSpec], now: datetime) -> SyncReport:
    report = SyncReport()
    with app.engine.begin() as db:
        rows = {row.name: row._mapping for row in db.execute(sa.select(schedules))}
        for name, spec in specs.items():
            wanted = spec_row(spec)
            row = rows.get(name)
            if row is None:
                db.execute(
                    schedules.insert().values(
                        **wanted,
                        origin=Origin.CODE.value,
                        active_since=now,
                        created_at=now,
                        updated_at=now,
                    )
                )
                record_action(db, actor=ACTOR, action="schedule.sync_add", target=name)
                report.added.append(name)
                continue
            if row["origin"] != Origin.CODE.value:
                log.warning(
                    "schedule %r is in app.conf.beat_schedule and was also added to the "
                    "database; the database one is used",
                    name,
                )
                report.shadowed.append(name)
                continue
            wanted.pop("enabled")  # pausing is the operator's call
            changed = {k: v for k, v in wanted.items() if not _same(row[k], v)}
            if not changed:
                continue
            values: dict[str, Any] = {**changed, "updated_at": now}
            if any(k in changed for k in _TIMING):
                values["active_since"] = now
            db.execute(schedules.update().where(schedules.c.name == name).values(**values))
            record_action(
                db,
                actor=ACTOR,
                action="schedule.sync_update",
                target=name,
                details={"changed": sorted(changed)},
            )
            report.updated.append(name)
        for name, row in rows.items():
            if row["origin"] == Origin.CODE.value and name not in specs:
                db.execute(schedules.delete().where(schedules.c.name == name))
                record_action(db, actor=ACTOR, action="schedule.sync_remove", target=name)
                report.removed.append(name)
    return report


def _same(stored: Any, wanted: Any) -> bool:
    if isinstance(stored, datetime) and isinstance(wanted, datetime):
        return stored == wanted
    if isinstance(wanted, list | tuple):
        return list(stored or []) == list(wanted)
    return bool(stored == wanted)


def _spec(name: str, entry: dict[str, Any], default_zone: str) -> ScheduleSpec:
    from celery.schedules import crontab, schedule

    timing = entry.pop("schedule", None)
    common: dict[str, Any] = {
        "name": name,
        "task": entry.pop("task", ""),
        "args": list(entry.pop("args", None) or []),
        "kwargs": dict(entry.pop("kwargs", None) or {}),
        "options": dict(entry.pop("options", None) or {}),
        "missed": _policy(entry.pop("missed", MissedPolicy.RUN_ONCE.value)),
        "catch_up_max": int(entry.pop("catch_up_max", DEFAULT_CATCH_UP_MAX)),
    }
    entry.pop("relative", None)
    if entry:
        raise ScheduleError(f"unknown keys {sorted(entry)}")
    if isinstance(timing, int | float) and not isinstance(timing, bool):
        return ScheduleSpec(kind=ScheduleKind.INTERVAL, every=float(timing), **common)
    if isinstance(timing, timedelta):
        return ScheduleSpec(kind=ScheduleKind.INTERVAL, every=timing.total_seconds(), **common)
    if isinstance(timing, crontab):
        fields = (
            timing._orig_minute,
            timing._orig_hour,
            timing._orig_day_of_month,
            timing._orig_month_of_year,
            timing._orig_day_of_week,
        )
        zone = timing.__dict__.get("tz") or default_zone
        return ScheduleSpec(
            kind=ScheduleKind.CRON,
            cron=" ".join(_cron_field(f) for f in fields),
            timezone=str(zone),
            **common,
        )
    if isinstance(timing, schedule):
        return ScheduleSpec(
            kind=ScheduleKind.INTERVAL, every=timing.run_every.total_seconds(), **common
        )
    raise ScheduleError(
        f"'schedule' must be seconds, a timedelta, celery.schedules.schedule or crontab; "
        f"got {type(timing).__name__} (solar schedules are not supported)"
    )


def _cron_field(value: Any) -> str:
    if isinstance(value, str):
        return value.replace(" ", "")
    if isinstance(value, Iterable):
        return ",".join(str(v) for v in sorted(value))
    return str(value)


def _policy(value: Any) -> MissedPolicy:
    try:
        return MissedPolicy(value)
    except ValueError:
        choices = ", ".join(p.value for p in MissedPolicy)
        raise ScheduleError(f"'missed' must be one of {choices}, got {value!r}") from None
