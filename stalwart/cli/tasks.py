"""``stalwart tasks ls|show``: task history and where a task is now."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from stalwart.cli.history_app import open_app
from stalwart.cli.output import console, print_json
from stalwart.history.query import (
    TaskFilter,
    TaskNode,
    get_task,
    list_tasks,
    task_tree,
)
from stalwart.history.whereis import describe_time, format_progress, where_is
from stalwart.timeparse import parse_since

__all__ = ["tasks_app"]

tasks_app = typer.Typer(no_args_is_help=True, help="Task history: list tasks, show one.")

AppOption = Annotated[str | None, typer.Option("-A", "--app", help="MODULE:APP (optional)")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _ago(at: datetime) -> str:
    return describe_time(at.timestamp()).split(" (")[1].rstrip(")")


@tasks_app.command("ls")
def tasks_ls(
    app: AppOption = None,
    state: Annotated[
        str | None,
        typer.Option(
            "--state",
            help="sent|received|started|retried|deferred|succeeded|"
            "failed|dead_lettered|revoked (aliases: queued, running, dead)",
        ),
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="Task name; 'prefix*' ok.")] = None,
    queue: Annotated[str | None, typer.Option("--queue", help="Queue name.")] = None,
    worker: Annotated[str | None, typer.Option("--worker", help="Worker hostname.")] = None,
    since: Annotated[str | None, typer.Option("--since", help="e.g. 15m, 1h, 2d, ISO.")] = None,
    until: Annotated[str | None, typer.Option("--until", help="e.g. 1h, ISO.")] = None,
    text: Annotated[str | None, typer.Option("--text", help="Text in the arguments.")] = None,
    root: Annotated[str | None, typer.Option("--root", help="Root task id (canvas).")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 50,
    cursor: Annotated[str | None, typer.Option("--cursor", help="Next page.")] = None,
    as_json: JsonOption = False,
) -> None:
    """List tasks, most recently active first."""
    flt = TaskFilter(
        state=state,
        name=name,
        queue=queue,
        worker=worker,
        since=parse_since(since) if since else None,
        until=parse_since(until, option="--until") if until else None,
        text=text,
        root_id=root,
    )
    stalwart_app = open_app(app)
    page = list_tasks(stalwart_app.engine, flt, limit=limit, cursor=cursor)
    if as_json:
        print_json({"tasks": [t.as_dict() for t in page.tasks], "next_cursor": page.next_cursor})
        return
    table = Table(title=f"{len(page.tasks)} tasks")
    for column in ("id", "name", "state", "queue", "worker", "retries", "updated"):
        table.add_column(column)
    for task in page.tasks:
        table.add_row(
            task.task_id,
            escape(task.name or "?"),
            task.state,
            escape(task.queue or ""),
            escape(task.worker or ""),
            str(task.retries),
            _ago(task.updated_at),
        )
    console.print(table)
    if page.next_cursor:
        console.print(f"more: --cursor {page.next_cursor}", highlight=False)


@tasks_app.command("show")
def tasks_show(
    task_id: Annotated[str, typer.Argument(help="Task id.")],
    app: AppOption = None,
    as_json: JsonOption = False,
) -> None:
    """The timeline of one task, its result or traceback, and where it is now."""
    stalwart_app = open_app(app)
    task = get_task(stalwart_app.engine, task_id)
    where = where_is(stalwart_app, task_id)
    tree = task_tree(stalwart_app.engine, task_id)
    if as_json:
        data: dict[str, Any] = {k: v for k, v in task.__dict__.items() if k != "events"}
        data["events"] = [e.__dict__ for e in task.events]
        data["where"] = {"state": where.state, "text": where.text, **where.facts}
        data["tree"] = tree.as_dict() if tree.children else None
        print_json(data)
        return
    out = console.print
    out(f"[bold]{escape(task.name or '?')}[/] {escape(f'[{task.task_id}]')}", highlight=False)
    out(f"  now:      [bold]{escape(where.text)}[/]", highlight=False)
    out(f"  state:    {task.state}   queue: {task.queue or '?'}   retries: {task.retries}")
    if task.args is not None or task.kwargs is not None:
        out(
            f"  args:     {escape(task.args or '[]')}  kwargs: {escape(task.kwargs or '{}')}",
            highlight=False,
        )
    for label, value in (
        ("root", task.root_id),
        ("parent", task.parent_id),
        ("group", task.group_id),
        ("replay of", task.replay_of),
    ):
        if value and value != task.task_id:
            out(f"  {label + ':':<9} {value}", highlight=False)
    if task.progress:
        out(f"  {format_progress(task.progress)}", highlight=False)
    timeline = Table(title="timeline", title_justify="left")
    for column in ("time (UTC)", "event", "worker", "details"):
        timeline.add_column(column)
    for event in task.events:
        details = ", ".join(f"{k}={v}" for k, v in event.fields.items() if k != "worker")
        timeline.add_row(
            event.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
            event.kind,
            escape(event.worker or ""),
            escape(details),
        )
    console.print(timeline)
    if task.result is not None:
        out(f"result: {escape(task.result)}", highlight=False)
    if task.exception:
        out(f"[red]{escape(task.exception)}[/]", highlight=False)
    if task.traceback:
        out(escape(task.traceback.rstrip()), highlight=False)
    if tree.children:
        console.print(_render_tree(tree, task_id))


def _render_tree(node: TaskNode, current: str, parent: Tree | None = None) -> Tree:
    if node.task is None:
        label = escape(f"group [{node.group_id}]")
    else:
        label = escape(f"{node.task.name or '?'} [{node.task.task_id}] {node.task.state}")
    if node.task is not None and node.task.task_id == current:
        label = f"[bold]{label}[/] <- this task"
    branch = Tree(label) if parent is None else parent.add(label)
    for child in node.children:
        _render_tree(child, current, branch)
    return branch
