"""``stalwart schedules ls|add|pause|resume|rm|run-now``: periodic schedules in the database.

Changes apply to running beats within one tick; each writes an audit row.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from stalwart.cli.context import Context
from stalwart.errors import ScheduleError

if TYPE_CHECKING:
    from stalwart.app import Stalwart

__all__ = ["schedules_app"]

schedules_app = typer.Typer(no_args_is_help=True, help="Periodic schedules (run by `beat`).")

AppOption = Annotated[
    str | None, typer.Option("-A", "--app", help="MODULE:APP (default: settings from env)")
]
NeedsApp = Annotated[
    str | None, typer.Option("-A", "--app", help="MODULE:APP whose tasks are scheduled")
]
Name = Annotated[str, typer.Argument(help="Schedule name.")]
_BARE_NUMBER = re.compile(r"\s*\d+(\.\d+)?\s*")


class Missed(StrEnum):
    skip = "skip"
    run_once = "run_once"
    catch_up = "catch_up"


def _require_app(target: str | None, command: str) -> None:
    if not target:
        raise ScheduleError(
            f"'stalwart schedules {command}' needs -A MODULE:APP (to check the task "
            "exists and to publish with the app's routing)"
        )


def _existing(target: str | None, name: str) -> Stalwart:
    """The app of a command on schedule ``name``; with no store, nothing is created."""
    return Context(target).app_with_store(f"no schedule named {name!r}")


@schedules_app.command("ls")
def ls(
    app: AppOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List schedules with their timing, state, last and next slot."""
    from stalwart.cli.output import console, new_table, print_json
    from stalwart.scheduler import store
    from stalwart.scheduler.presence import list_beats

    context = Context(app)
    engine = context.database()
    if engine is None:
        context.nothing(as_json, [], "no schedules", context.no_store())
        return
    now = datetime.now(UTC)
    from stalwart.ops.schedules import schedule_dict
    from stalwart.redaction import Redactor

    loaded = context.loaded
    redactor = loaded.redactor if loaded is not None else Redactor(context.settings.redact)
    with context.reading():
        rows = [
            schedule_dict(s, now, 1, redactor, loaded.tasks.get(s.task) if loaded else None)
            for s in store.list_schedules(engine)
        ]
    if as_json:
        print_json(rows)
        return
    table = new_table(
        "name",
        "timing",
        "task",
        "state",
        "missed",
        "origin",
        "last slot",
        "next slot",
        whole=("name",),
    )
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
        client = context.coordination()
        beats = list_beats(client) if client is not None else []
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
    catch_up_max: Annotated[
        int | None, typer.Option("--catch-up-max", min=1, help="Default 100.")
    ] = None,
    paused: Annotated[bool, typer.Option("--paused", help="Add it paused.")] = False,
) -> None:
    """Add a schedule: exactly one of --cron, --every (with a unit: 30s, 5m, 1h) or --at."""
    from stalwart.audit import os_user
    from stalwart.cli.output import console
    from stalwart.scheduler.model import (
        DEFAULT_CATCH_UP_MAX,
        MissedPolicy,
        ScheduleKind,
        ScheduleSpec,
        check_zone,
        parse_duration,
        parse_instant,
        parse_json_arg,
        slot_iso,
    )
    from stalwart.scheduler.slots import next_slot

    # Check the input before importing the app: a typo fails fast, in one line.
    if every is not None and _BARE_NUMBER.fullmatch(every):
        number = every.strip()
        raise ScheduleError(
            f"--every {every!r} needs a unit: {number}s, {number}m, {number}h or {number}d"
        )
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
    _require_app(app, "add")
    stalwart_app = Context(app).app(schema=False)
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
        catch_up_max=catch_up_max or DEFAULT_CATCH_UP_MAX,
        enabled=not paused,
    )
    from stalwart.ops import actions

    actions.check_schedule_arguments(stalwart_app, spec)
    stalwart_app.ensure_schema()  # only now: a refused schedule touches no store
    added = actions.add_schedule(stalwart_app, spec, actor=os_user())
    upcoming = next_slot(added, datetime.now(UTC))
    console.print(f"added {added.name}: {added.describe()}, next slot {slot_iso(upcoming) or '-'}")


@schedules_app.command("pause")
def pause(name: Name, app: AppOption = None) -> None:
    """Stop firing (slots while paused are not fired on resume)."""
    from stalwart.audit import os_user
    from stalwart.cli.output import console
    from stalwart.ops import actions

    actions.pause_schedule(_existing(app, name), name, actor=os_user())
    console.print(f"paused {name}")


@schedules_app.command("resume")
def resume(name: Name, app: AppOption = None) -> None:
    """Fire again from the next slot on."""
    from stalwart.audit import os_user
    from stalwart.cli.output import console
    from stalwart.ops import actions

    actions.resume_schedule(_existing(app, name), name, actor=os_user())
    console.print(f"resumed {name}")


@schedules_app.command("rm")
def rm(name: Name, app: AppOption = None) -> None:
    """Remove a schedule (code-defined ones are removed from app.conf.beat_schedule)."""
    from stalwart.audit import os_user
    from stalwart.cli.output import console
    from stalwart.ops import actions

    actions.delete_schedule(_existing(app, name), name, actor=os_user())
    console.print(f"removed {name}")


@schedules_app.command("run-now")
def run_now(name: Name, app: NeedsApp = None) -> None:
    """Publish one run now (its own slot id ``NAME@manual-<time>``), beat or not."""
    from stalwart.audit import os_user
    from stalwart.cli.output import console
    from stalwart.ops import actions

    _require_app(app, "run-now")
    sent = actions.run_schedule_now(_existing(app, name), name, actor=os_user())
    console.print(f"sent {sent['task']} for {sent['slot']}: task id {sent['task_id']}")
