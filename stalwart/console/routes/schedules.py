"""``/schedules``: list with next fire times; add, edit (with a preview), pause, resume,
run now, delete."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from stalwart.console.context import Console, ConsoleDep, PrincipalDep
from stalwart.console.render import page
from stalwart.console.schemas import ScheduleIn
from stalwart.ops import actions
from stalwart.ops.schedules import build_spec, fire_times, schedule_dict
from stalwart.ops.workers import list_beat_rows
from stalwart.scheduler import store
from stalwart.scheduler.model import Schedule, ScheduleSpec, slot_iso

router = APIRouter(tags=["schedules"])
Text = Annotated[str | None, Query(max_length=200)]
PREVIEW_IN_LIST = 3


def listing(console: Console) -> dict[str, Any]:
    app, now = console.app, datetime.now(UTC)
    rows = [_shown(console, s, PREVIEW_IN_LIST) for s in store.list_schedules(app.engine)]
    try:
        beats = [b.as_dict() for b in list_beat_rows(app.redis, now.timestamp())]
    except Exception:  # the coordination store is not needed to list schedules
        beats = []
    return {"schedules": rows, "beats": beats}


def _shown(console: Console, schedule: Schedule, preview: int = 1) -> dict[str, Any]:
    function = console.app.tasks.get(schedule.task)
    return schedule_dict(schedule, datetime.now(UTC), preview, console.redactor, function)


def _spec(console: Console, body: ScheduleIn) -> ScheduleSpec:
    values = body.model_dump(exclude={"name", "task"})
    return build_spec(body.name, body.task, default_zone=console.app.settings.timezone, **values)


@router.get("/api/schedules", summary="Schedules with their next fire times")
def api_schedules(console: ConsoleDep) -> dict[str, Any]:
    return listing(console)


@router.get("/schedules", include_in_schema=False)
def schedules_page(request: Request, console: ConsoleDep) -> HTMLResponse:
    app = console.app
    app.loader.import_default_modules()
    tasks = sorted(t for t in app.tasks if not t.startswith("celery."))
    return page(request, "schedules.html", "Schedules", data=listing(console), tasks=tasks,
                default_zone=app.settings.timezone, live_interval=2)  # fmt: skip


@router.get("/api/schedules/preview", summary="Check a timing; its next 5 fire times in its zone")
def preview(console: ConsoleDep, cron: Text = None, every: Text = None, at: Text = None,
            tz: Text = None) -> dict[str, Any]:  # fmt: skip
    zone = tz or console.app.settings.timezone
    spec = build_spec(
        "preview",
        "preview",
        default_zone=console.app.settings.timezone,
        cron=cron or None,
        every=every or None,
        at=at or None,
        tz=tz or None,
    )
    times = fire_times(spec)
    return {
        "zone": zone,
        "utc": [slot_iso(t) for t in times],
        "local": [t.astimezone(ZoneInfo(zone)).isoformat() for t in times],
    }


@router.post("/api/schedules", status_code=201, summary="Add a schedule")
def add(body: ScheduleIn, console: ConsoleDep, principal: PrincipalDep) -> dict[str, Any]:
    added = actions.add_schedule(console.app, _spec(console, body), actor=principal.actor)
    return _shown(console, added, 5)


@router.put("/api/schedules/{name}", summary="Edit a schedule (timing, task, arguments)")
def edit(name: str, body: ScheduleIn, console: ConsoleDep, principal: PrincipalDep
         ) -> dict[str, Any]:  # fmt: skip
    spec = _spec(console, body.model_copy(update={"name": name}))
    edited = actions.edit_schedule(console.app, spec, actor=principal.actor)
    return _shown(console, edited, 5)


@router.post("/api/schedules/{name}/pause", summary="Pause a schedule")
def pause(name: str, console: ConsoleDep, principal: PrincipalDep) -> dict[str, Any]:
    done = actions.pause_schedule(console.app, name, actor=principal.actor)
    return _shown(console, done)


@router.post("/api/schedules/{name}/resume", summary="Resume a schedule from its next slot")
def resume(name: str, console: ConsoleDep, principal: PrincipalDep) -> dict[str, Any]:
    done = actions.resume_schedule(console.app, name, actor=principal.actor)
    return _shown(console, done)


@router.post("/api/schedules/{name}/run-now", summary="Publish one run now")
def run_now(name: str, console: ConsoleDep, principal: PrincipalDep) -> dict[str, str]:
    return actions.run_schedule_now(console.app, name, actor=principal.actor)


@router.delete("/api/schedules/{name}", summary="Delete a schedule")
def delete(name: str, console: ConsoleDep, principal: PrincipalDep) -> dict[str, Any]:
    actions.delete_schedule(console.app, name, actor=principal.actor)
    return {"deleted": name}
