"""The schedules store: every query, for the CLI, the console, beat and the code sync.

Each change an operator makes writes an audit row in the same transaction
(:func:`stalwart.audit.record_action`). Beat reloads the table every tick, so a change
takes effect within one tick without restarting anything.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from stalwart.audit import record_action
from stalwart.errors import NotFound, ScheduleError
from stalwart.scheduler.model import (
    MissedPolicy,
    Origin,
    Schedule,
    ScheduleKind,
    ScheduleSpec,
    slot_iso,
)
from stalwart.scheduler.tables import schedules

__all__ = [
    "check_arguments",
    "add_schedule",
    "get_schedule",
    "list_schedules",
    "record_slots",
    "remove_schedule",
    "set_enabled",
    "spec_row",
    "update_schedule",
]


def list_schedules(engine: Engine, enabled_only: bool = False) -> list[Schedule]:
    query = sa.select(schedules).order_by(schedules.c.name)
    if enabled_only:
        query = query.where(schedules.c.enabled.is_(True))
    with engine.connect() as db:
        return [_from_row(row._mapping) for row in db.execute(query)]


def get_schedule(engine: Engine, name: str) -> Schedule:
    with engine.connect() as db:
        return _get(db, name)


def add_schedule(
    engine: Engine,
    spec: ScheduleSpec,
    *,
    actor: str,
    known_tasks: Collection[str] | None = None,
    now: datetime | None = None,
) -> Schedule:
    """Insert a new schedule (name must be free); ``known_tasks`` checks the task exists."""
    spec.validate()
    check_task(spec.task, known_tasks)
    check_fires(spec, now or datetime.now(UTC))
    now = now or datetime.now(UTC)
    with engine.begin() as db:
        if db.execute(sa.select(schedules.c.id).where(schedules.c.name == spec.name)).first():
            raise ScheduleError(
                f"a schedule named {spec.name!r} already exists: remove it first "
                f"('stalwart schedules rm {spec.name}') or choose another name"
            )
        db.execute(
            schedules.insert().values(
                **spec_row(spec),
                origin=Origin.DATABASE.value,
                active_since=now,
                created_at=now,
                updated_at=now,
            )
        )
        record_action(
            db, actor=actor, action="schedule.add", target=spec.name, details=_details(spec)
        )
        return _get(db, spec.name)


def update_schedule(
    engine: Engine,
    spec: ScheduleSpec,
    *,
    actor: str,
    known_tasks: Collection[str] | None = None,
    now: datetime | None = None,
) -> Schedule:
    """Replace the timing, task and arguments of an existing database schedule."""
    spec.validate()
    check_task(spec.task, known_tasks)
    now = now or datetime.now(UTC)
    check_fires(spec, now)
    with engine.begin() as db:
        current = _get(db, spec.name)
        if current.origin is Origin.CODE:
            raise ScheduleError(
                f"schedule {spec.name!r} is defined in code (app.conf.beat_schedule): edit it "
                "there (an edit here would be undone at the next beat start)"
            )
        values = {**spec_row(spec), "updated_at": now}
        if spec.enabled and (not current.enabled or _timing_changed(current, spec)):
            values["active_since"] = now
        db.execute(schedules.update().where(schedules.c.name == spec.name).values(**values))
        record_action(
            db, actor=actor, action="schedule.edit", target=spec.name, details=_details(spec)
        )
        return _get(db, spec.name)


def _timing_changed(current: Schedule, spec: ScheduleSpec) -> bool:
    return (current.kind, current.cron, current.timezone, current.every, current.at) != (
        spec.kind,
        spec.cron,
        spec.timezone,
        spec.every,
        spec.at,
    )


def set_enabled(
    engine: Engine, name: str, enabled: bool, *, actor: str, now: datetime | None = None
) -> Schedule:
    """Pause or resume. Resuming does not fire the slots that fell due while paused."""
    now = now or datetime.now(UTC)
    with engine.begin() as db:
        current = _get(db, name)
        values: dict[str, Any] = {"enabled": enabled, "updated_at": now}
        if enabled and not current.enabled:
            values["active_since"] = now
        db.execute(schedules.update().where(schedules.c.name == name).values(**values))
        action = "schedule.resume" if enabled else "schedule.pause"
        record_action(db, actor=actor, action=action, target=name)
        return _get(db, name)


def remove_schedule(engine: Engine, name: str, *, actor: str, force: bool = False) -> None:
    with engine.begin() as db:
        current = _get(db, name)
        if current.origin is Origin.CODE and not force:
            raise ScheduleError(
                f"schedule {name!r} is defined in code (app.conf.beat_schedule) and would come "
                "back at the next beat start: remove it there, or pause it"
            )
        db.execute(schedules.delete().where(schedules.c.name == name))
        record_action(
            db, actor=actor, action="schedule.remove", target=name, details=_details(current)
        )


def record_slots(engine: Engine, handled: Mapping[str, tuple[datetime, bool]]) -> None:
    """Beat: remember the newest slot handled per schedule (never moves backwards).

    ``handled`` maps name -> (slot, fired). Run by the leader after its fires; the
    coordination store holds the authoritative, fenced copy.
    """
    if not handled:
        return
    now = datetime.now(UTC)
    with engine.begin() as db:
        for name, (slot, fired) in handled.items():
            values: dict[str, Any] = {"last_slot": slot}
            if fired:
                values["last_fired_at"] = now
            db.execute(
                schedules.update()
                .where(schedules.c.name == name)
                .where(sa.or_(schedules.c.last_slot.is_(None), schedules.c.last_slot < slot))
                .values(**values)
            )


def record_run_now(engine: Engine, name: str, *, actor: str, task_id: str, slot: str) -> None:
    with engine.begin() as db:
        record_action(
            db,
            actor=actor,
            action="schedule.run_now",
            target=name,
            details={"task_id": task_id, "slot": slot},
        )


# -- validation shared with the code sync ------------------------------------------------


def check_task(task: str, known_tasks: Collection[str] | None) -> None:
    if known_tasks is None or task in known_tasks:
        return
    user_tasks = sorted(t for t in known_tasks if not t.startswith("celery."))
    hint = ", ".join(user_tasks[:10]) + (" ..." if len(user_tasks) > 10 else "")
    raise ScheduleError(f"task {task!r} is not registered in the app; known tasks: {hint}")


def check_arguments(
    task: str, run: Callable[..., Any], args: Sequence[Any], kwargs: Mapping[str, Any]
) -> None:
    """Refuse arguments that do not fit the task's signature (every slot would fail)."""
    try:
        signature = inspect.signature(run)
    except (TypeError, ValueError):  # a callable Python cannot describe: nothing to check
        return
    empty = inspect.Parameter.empty
    plain = [p.replace(annotation=empty) for p in signature.parameters.values()]
    shown = signature.replace(parameters=plain, return_annotation=empty)
    try:
        signature.bind(*args, **kwargs)
    except TypeError as exc:
        raise ScheduleError(
            f"the arguments do not fit {task}{shown}: {exc} "
            "(give them with --args '[...]' and --kwargs '{...}')"
        ) from None


def check_fires(spec: ScheduleSpec, now: datetime) -> None:
    """Refuse schedules that can never fire (a past 'at', a cron date that never exists)."""
    from stalwart.scheduler.slots import next_slot

    if spec.kind is ScheduleKind.AT:
        if spec.at is not None and spec.at <= now:
            raise ScheduleError(
                f"schedule {spec.name!r}: --at {slot_iso(spec.at)} is in the past "
                f"(now {slot_iso(now)})"
            )
        return
    probe = Schedule(**{**asdict(spec), "active_since": now})
    try:
        upcoming = next_slot(probe, now)
    except Exception as exc:  # croniter: an expression that matches no date
        raise ScheduleError(f"schedule {spec.name!r} never fires: {exc}") from None
    if upcoming is None:
        raise ScheduleError(f"schedule {spec.name!r} never fires")


def spec_row(spec: ScheduleSpec) -> dict[str, Any]:
    """The table columns that a spec defines (everything but bookkeeping)."""
    return {
        "name": spec.name,
        "task": spec.task,
        "kind": spec.kind.value,
        "cron": spec.cron,
        "timezone": spec.timezone,
        "every_seconds": spec.every,
        "at": spec.at,
        "args": list(spec.args),
        "kwargs": dict(spec.kwargs),
        "options": dict(spec.options),
        "enabled": spec.enabled,
        "missed": spec.missed.value,
        "catch_up_max": spec.catch_up_max,
    }


def _details(spec: ScheduleSpec) -> dict[str, Any]:
    """What the audit row keeps: the schedule without its argument values (they may hold
    secrets, and the audit log is shown to every console user): their count and names."""
    row = spec_row(spec)
    row["at"] = slot_iso(spec.at) if spec.at else None
    row["args"] = f"{len(spec.args)} positional"
    row["kwargs"] = sorted(spec.kwargs)
    return row


def _get(db: Connection, name: str) -> Schedule:
    row = db.execute(sa.select(schedules).where(schedules.c.name == name)).first()
    if row is None:
        raise NotFound(f"no schedule named {name!r} (see 'stalwart schedules ls')")
    return _from_row(row._mapping)


def _from_row(row: Mapping[Any, Any]) -> Schedule:
    return Schedule(
        name=row["name"],
        task=row["task"],
        kind=ScheduleKind(row["kind"]),
        cron=row["cron"],
        timezone=row["timezone"],
        every=row["every_seconds"],
        at=row["at"],
        args=list(row["args"] or []),
        kwargs=dict(row["kwargs"] or {}),
        options=dict(row["options"] or {}),
        missed=MissedPolicy(row["missed"]),
        catch_up_max=row["catch_up_max"],
        enabled=bool(row["enabled"]),
        origin=Origin(row["origin"]),
        active_since=row["active_since"],
        last_slot=row["last_slot"],
        last_fired_at=row["last_fired_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
