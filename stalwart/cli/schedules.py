"""``stalwart schedules ls|add|pause|resume|rm|run-now``: periodic schedules in the database.

Changes apply to running beats within one tick; each writes an audit row.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.table import Table

from stalwart.app import Stalwart
from stalwart.audit import os_user
from stalwart.cli.output import console, print_json
from stalwart.cli.target import load_app
from stalwart.errors import ScheduleError, StalwartError
from stalwart.scheduler import store
from stalwart.scheduler.fire import Fire, publish
from stalwart.scheduler.model import (
    DEFAULT_CATCH_UP_MAX,
    MissedPolicy,
    Schedule,
    ScheduleKind,
    ScheduleSpec,
    check_zone,
    parse_duration,
    parse_instant,
    parse_json_arg,
    slot_iso,
)
from stalwart.scheduler.presence import list_beats
from stalwart.scheduler.slots import next_slot
from stalwart.settings import Settings

__all__ = ["schedules_app"]

schedules_app = typer.Typer(no_args_is_help=True, help="Periodic schedules (run by `beat`).")

AppOption = Annotated[
    str | None, typer.Option("-A", "--app", help="MODULE:APP (default: settings from env)")
]
NeedsApp = Annotated[
    str | None, typer.Option("-A", "--app", help="MODULE:APP whose tasks are scheduled")
]
Name = Annotated[str, typer.Argument(help="Schedule name.")]


class Missed(StrEnum):
    skip = "skip"
    run_once = "run_once"
    catch_up = "catch_up"


def _app(target: str | None, required_for: str | None = None) -> Stalwart:
    if target:
        app = load_app(target)
    elif required_for:
        raise ScheduleError(
            f"'stalwart schedules {required_for}' needs -A MODULE:APP (to check the task "
            "exists and to publish with the app's routing)"
        )
    else:
        app = Stalwart("stalwart-cli", settings=Settings.from_env())
    app.ensure_schema()
    return app


@schedules_app.command("ls")
def ls(
    app: AppOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List schedules with their timing, state, last and next slot."""
    stalwart_app = _app(app)
    now = datetime.now(UTC)
    rows = [_as_dict(s, now) for s in store.list_schedules(stalwart_app.engine)]
    if as_json:
        print_json(rows)
        return
    table = Table("name", "timing", "task", "state", "missed", "origin", "last slot", "next slot")
    for row in rows:
        table.add_row(
            row["name"],
            row["timing"],
            row["task"],
            "enabled" if row["enabled"] else "paused",
            row["missed"]
            + (f" (max {row['catch_up_max']})" if row["missed"] == "catch_up" else ""),
            row["origin"],
            row["last_slot"] or "-",
            row["next_slot"] or "-",
        )
    console.print(table)
    try:
        beats = list_beats(stalwart_app.redis)
    except Exception:  # the coordination store is optional for listing
        return
    if not beats:
        console.print("no beat process is running: schedules do not fire")
    for info in beats:
        console.print(f"beat {info.id} ({info.host} pid {info.pid}): {info.role}")


@schedules_app.command("add")
def add(
    name: Name,
    task: Annotated[str, typer.Option("--task", help="Registered task name.")],
    app: NeedsApp = None,
    cron: Annotated[str | None, typer.Option("--cron", help="Crontab, e.g. '30 2 * * *'.")] = None,
    tz: Annotated[str | None, typer.Option("--tz", help="Zone of --cron/--at (IANA).")] = None,
    every: Annotated[str | None, typer.Option("--every", help="Interval: 30s, 5m, 1h.")] = None,
    at: Annotated[str | None, typer.Option("--at", help="Once, at an ISO 8601 time.")] = None,
    args: Annotated[str | None, typer.Option("--args", help="JSON list.")] = None,
    kwargs: Annotated[str | None, typer.Option("--kwargs", help="JSON object.")] = None,
    queue: Annotated[str | None, typer.Option("--queue")] = None,
    priority: Annotated[int | None, typer.Option("--priority", min=0, max=255)] = None,
    missed: Annotated[Missed, typer.Option("--missed", help="Policy for missed slots.")] = (
        Missed.run_once
    ),
    catch_up_max: Annotated[int, typer.Option("--catch-up-max", min=1)] = DEFAULT_CATCH_UP_MAX,
    paused: Annotated[bool, typer.Option("--paused", help="Add it paused.")] = False,
) -> None:
    """Add a schedule: exactly one of --cron, --every, --at."""
    # Check the input before importing the app: a typo fails fast, in one line.
    if sum(x is not None for x in (cron, every, at)) != 1:
        raise ScheduleError("give exactly one of --cron, --every or --at")
    if tz is not None and cron is None and at is None:
        raise ScheduleError("--tz applies to --cron and --at only")
    if tz is not None:
        check_zone(tz)
    interval = parse_duration(every) if every else None
    call_args = parse_json_arg(args, "--args", list)
    call_kwargs = parse_json_arg(kwargs, "--kwargs", dict)
    if at is not None:
        parse_instant(at, tz or "UTC")
    if cron is not None:
        ScheduleSpec(name=name, task=task, kind=ScheduleKind.CRON, cron=cron).validate()
    stalwart_app = _app(app, required_for="add")
    zone = tz or stalwart_app.settings.timezone
    options: dict[str, Any] = {}
    if queue:
        options["queue"] = queue
    if priority is not None:
        options["priority"] = priority
    kind = ScheduleKind.CRON if cron else ScheduleKind.INTERVAL if every else ScheduleKind.AT
    spec = ScheduleSpec(
        name=name,
        task=task,
        kind=kind,
        cron=cron,
        timezone=zone if cron else None,
        every=interval,
        at=parse_instant(at, zone) if at else None,
        args=call_args,
        kwargs=call_kwargs,
        options=options,
        missed=MissedPolicy(missed.value),
        catch_up_max=catch_up_max,
        enabled=not paused,
    )
    stalwart_app.loader.import_default_modules()
    added = store.add_schedule(
        stalwart_app.engine, spec, actor=os_user(), known_tasks=set(stalwart_app.tasks.keys())
    )
    upcoming = next_slot(added, datetime.now(UTC))
    console.print(f"added {added.name}: {added.describe()}, next slot {slot_iso(upcoming) or '-'}")


@schedules_app.command("pause")
def pause(name: Name, app: AppOption = None) -> None:
    """Stop firing (slots while paused are not fired on resume)."""
    store.set_enabled(_app(app).engine, name, False, actor=os_user())
    console.print(f"paused {name}")


@schedules_app.command("resume")
def resume(name: Name, app: AppOption = None) -> None:
    """Fire again from the next slot on."""
    store.set_enabled(_app(app).engine, name, True, actor=os_user())
    console.print(f"resumed {name}")


@schedules_app.command("rm")
def rm(name: Name, app: AppOption = None) -> None:
    """Remove a schedule (code-defined ones are removed from app.conf.beat_schedule)."""
    store.remove_schedule(_app(app).engine, name, actor=os_user())
    console.print(f"removed {name}")


@schedules_app.command("run-now")
def run_now(name: Name, app: NeedsApp = None) -> None:
    """Publish one run now (its own slot id ``NAME@manual-<time>``), beat or not."""
    stalwart_app = _app(app, required_for="run-now")
    schedule = store.get_schedule(stalwart_app.engine, name)
    fire = Fire.manual(schedule, datetime.now(UTC))
    try:
        task_id = publish(stalwart_app, fire)
    except StalwartError:
        raise
    except Exception as exc:
        raise ScheduleError(f"publishing {name!r} failed: {type(exc).__name__}: {exc}") from None
    store.record_run_now(
        stalwart_app.engine, name, actor=os_user(), task_id=task_id, slot=fire.slot_id
    )
    console.print(f"sent {fire.task} for {fire.slot_id}: task id {task_id}")


def _as_dict(schedule: Schedule, now: datetime) -> dict[str, Any]:
    upcoming: datetime | None = None
    if schedule.enabled:
        try:
            upcoming = next_slot(schedule, max(now, schedule.last_slot or now))
        except Exception:
            upcoming = None
    return {
        "name": schedule.name,
        "task": schedule.task,
        "kind": schedule.kind.value,
        "timing": schedule.describe(),
        "cron": schedule.cron,
        "timezone": schedule.timezone,
        "every": schedule.every,
        "at": slot_iso(schedule.at) or None,
        "args": schedule.args,
        "kwargs": schedule.kwargs,
        "options": schedule.options,
        "enabled": schedule.enabled,
        "missed": schedule.missed.value,
        "catch_up_max": schedule.catch_up_max,
        "origin": schedule.origin.value,
        "last_slot": slot_iso(schedule.last_slot) or None,
        "last_fired_at": slot_iso(schedule.last_fired_at) or None,
        "next_slot": slot_iso(upcoming) or None,
        "created_at": slot_iso(schedule.created_at),
    }
