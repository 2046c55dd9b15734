"""``/tasks`` (history with the CLI's filters, keyset pages) and ``/tasks/{id}`` (one task)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from stalwart.console.context import Console, ConsoleDep, PrincipalDep
from stalwart.console.render import page
from stalwart.errors import ActionRefused, NotFound
from stalwart.history.query import STATES, TaskFilter, get_task, list_tasks, task_tree
from stalwart.history.whereis import where_is
from stalwart.ops import actions
from stalwart.timeparse import parse_since

router = APIRouter(tags=["tasks"])

Text = Annotated[str | None, Query(max_length=255)]
HIDDEN_FIELDS = ("args", "kwargs")  # shown once, redacted by the console's own settings
# An argument search reads the arguments of every task in its time range (history has
# no full-text index): 1M rows take seconds. Without 'since' it searches the last hour.
TEXT_WINDOW = "1h"
TextQuery = Annotated[
    str | None,
    Query(max_length=255, description=f"Text in the arguments; searches since={TEXT_WINDOW} "
          "unless 'since' is given (a wider range reads every task in it)."),
]  # fmt: skip


def _filter(state: str | None, name: str | None, queue: str | None, worker: str | None,
            since: str | None, until: str | None, text: str | None, root: str | None
            ) -> TaskFilter:  # fmt: skip
    return TaskFilter(
        state=state or None, name=name or None, queue=queue or None, worker=worker or None,
        since=parse_since(since or TEXT_WINDOW) if since or text else None,
        until=parse_since(until, option="until") if until else None,
        text=text or None, root_id=root or None,
    )  # fmt: skip


def listing(console: Console, flt: TaskFilter, limit: int, cursor: str | None) -> dict[str, Any]:
    result = list_tasks(console.app.engine, flt, limit=limit, cursor=cursor or None)
    return {"tasks": [t.as_dict() for t in result.tasks], "next_cursor": result.next_cursor}


def _arguments(console: Console, name: str | None, args: str | None, kwargs: str | None
               ) -> tuple[Any, Any]:  # fmt: skip
    def load(text: str | None, empty: Any) -> Any:
        try:
            return json.loads(text) if text else empty
        except ValueError:
            return empty

    app = console.app
    function = app.tasks.get(name) if name else None
    masked_args, masked_kwargs = console.redactor.call(load(args, []), load(kwargs, {}), function)
    return masked_args, masked_kwargs


def detail(console: Console, task_id: str) -> dict[str, Any]:
    app = console.app
    task = get_task(app.engine, task_id)
    where = where_is(app, task_id)
    tree = task_tree(app.engine, task_id)
    progress = app.progress(task_id)
    try:
        letter: dict[str, Any] | None = app.dead_letters.get(task_id).as_dict(app)
    except NotFound:
        letter = None
    args, kwargs = _arguments(console, task.name, task.args, task.kwargs)
    data = asdict(task)
    data["args"], data["kwargs"] = args, kwargs
    for event in data["events"]:
        event["fields"] = {k: v for k, v in event["fields"].items() if k not in HIDDEN_FIELDS}
    return {
        "task": data,
        "where": {"state": where.state, "text": where.text, **where.facts},
        "tree": tree.as_dict() if tree.children else None,
        "progress": progress.as_dict() if progress else task.progress,
        "dead_letter": letter,
        "args": args,
        "kwargs": kwargs,
    }


@router.get("/api/tasks", summary="Task history, most recently active first (keyset pages)")
def api_tasks(
    console: ConsoleDep, state: Text = None, name: Text = None, queue: Text = None,
    worker: Text = None, since: Text = None, until: Text = None, text: TextQuery = None,
    root: Text = None, limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> dict[str, Any]:  # fmt: skip
    flt = _filter(state, name, queue, worker, since, until, text, root)
    data = listing(console, flt, limit, cursor)
    if text:
        data["searched_since"] = since or TEXT_WINDOW
    return data


@router.get("/tasks", include_in_schema=False)
def tasks_page(
    request: Request, console: ConsoleDep, state: Text = None, name: Text = None,
    queue: Text = None, worker: Text = None, since: Text = None, text: TextQuery = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> HTMLResponse:  # fmt: skip
    if text and not since:
        since = TEXT_WINDOW  # shown in the form: the person sees the range searched
    data = listing(console, _filter(state, name, queue, worker, since, None, text, None), 50,
                   cursor)  # fmt: skip
    given = {"state": state, "name": name, "queue": queue, "worker": worker, "since": since,
             "text": text}  # fmt: skip
    given = {k: v for k, v in given.items() if v}
    next_url = "/tasks?" + urlencode({**given, "cursor": data["next_cursor"] or ""})
    return page(request, "tasks.html", "Tasks", data=data, f=given, states=STATES,
                next_url=next_url, live_interval=0 if cursor else 5)  # fmt: skip


@router.get("/api/tasks/{task_id}", summary="One task: where it is now, timeline, canvas, progress")
def api_task(task_id: str, console: ConsoleDep) -> dict[str, Any]:
    return detail(console, task_id)


@router.get("/tasks/{task_id}", include_in_schema=False)
def task_page(task_id: str, request: Request, console: ConsoleDep) -> HTMLResponse:
    data = detail(console, task_id)
    title = f"Task {data['task']['name'] or '?'}"
    return page(request, "task.html", title, data=data, task_id=task_id, live_interval=1)


@router.post("/api/tasks/{task_id}/revoke", summary="Revoke a queued, delayed or deferred task")
def revoke(task_id: str, console: ConsoleDep, principal: PrincipalDep) -> dict[str, Any]:
    return actions.revoke_task(console.app, task_id, actor=principal.actor)


@router.post("/api/tasks/{task_id}/retry-now", summary="Make a waiting retry/deferral due now")
def retry_now(task_id: str, console: ConsoleDep, principal: PrincipalDep) -> dict[str, Any]:
    return actions.retry_now(console.app, task_id, actor=principal.actor)


@router.post("/api/tasks/{task_id}/replay", summary="Replay the task's dead letter as a new task")
def replay(task_id: str, console: ConsoleDep, principal: PrincipalDep) -> dict[str, Any]:
    try:
        console.app.dead_letters.get(task_id)
    except NotFound:
        raise ActionRefused(f"task {task_id} has no dead letter to replay") from None
    done = actions.replay_dead_letters(console.app, [task_id], actor=principal.actor)
    return {"replayed": [asdict(r) for r in done]}
