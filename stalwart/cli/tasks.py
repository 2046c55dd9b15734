"""``stalwart tasks ls|show``: task history and where a task is now."""

from __future__ import annotations

from datetime import UTC
from typing import TYPE_CHECKING, Annotated, Any

import typer

from stalwart.cli.context import AppOption, Context

if TYPE_CHECKING:
    from rich.tree import Tree

    from stalwart.history.query import TaskDetail, TaskNode
    from stalwart.history.whereis import WhereIs

__all__ = ["tasks_app"]

tasks_app = typer.Typer(no_args_is_help=True, help="Task history: list tasks, show one, revoke.")

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


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
    from rich.markup import escape

    from stalwart.cli.output import console, new_table, print_json
    from stalwart.formatting import relative
    from stalwart.history.query import TaskFilter, list_tasks
    from stalwart.timeparse import parse_since

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
    context = Context(app)
    engine = context.database()
    if engine is None:
        empty: dict[str, object] = {"tasks": [], "next_cursor": None}
        context.nothing(as_json, empty, "no tasks", context.no_store())
        return
    with context.reading():
        page = list_tasks(engine, flt, limit=limit, cursor=cursor)
    if as_json:
        print_json({"tasks": [t.as_dict() for t in page.tasks], "next_cursor": page.next_cursor})
        return
    table = new_table(
        "id",
        "name",
        "state",
        "queue",
        "worker",
        "retries",
        "updated",
        title=f"{len(page.tasks)} tasks",
        whole=("id",),
    )
    for task in page.tasks:
        table.add_row(
            task.task_id,
            escape(task.name or "?"),
            task.state,
            escape(task.queue or ""),
            escape(task.worker or ""),
            str(task.retries),
            relative(task.updated_at.timestamp()),
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
    from stalwart.cli.output import print_json
    from stalwart.errors import NotFound
    from stalwart.history.query import get_task, task_tree

    context = Context(app)
    engine = context.database()
    if engine is None:
        raise NotFound(f"no task {task_id!r}: {context.no_store()}")
    with context.reading():
        task = get_task(engine, task_id)
        where = _where(context, task)
        tree = task_tree(engine, task_id)
    if as_json:
        data: dict[str, Any] = {k: v for k, v in task.__dict__.items() if k != "events"}
        data["events"] = [e.__dict__ for e in task.events]
        data["where"] = {"state": where.state, "text": where.text, **where.facts}
        data["tree"] = tree.as_dict() if tree.children else None
        print_json(data)
        return
    _print_task(task, where, tree)


def _where(context: Context, task: TaskDetail) -> WhereIs:
    """Where the task is now; from history alone when the embedded server is not running."""
    from stalwart.history.whereis import WhereIs, where_is

    live = context.live_app()
    if live is not None:
        return where_is(live, task.task_id)
    text = f"last recorded: {task.state}; {context.not_running()}"
    return WhereIs(task.state, text, {"live": False})


def _print_task(task: TaskDetail, where: WhereIs, tree: TaskNode) -> None:
    from rich.markup import escape

    from stalwart.cli.output import console, new_table
    from stalwart.history.whereis import format_progress

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
    timeline = new_table("time (UTC)", "event", "worker", "details", title="timeline")
    timeline.title_justify = "left"
    for event in task.events:
        details = ", ".join(_shown(k, v) for k, v in event.fields.items() if k != "worker")
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
        console.print(_render_tree(tree, task.task_id))


def _shown(name: str, value: Any) -> str:
    """One event field for people: times as local + UTC + how far, durations spelled."""
    from stalwart.formatting import as_epoch, span, when

    epoch = as_epoch(value) if name in _TIME_FIELDS else None
    if epoch is not None:
        return f"{name}={when(epoch)}"
    if name == "delay" and isinstance(value, int | float):
        return f"{name}={span(value)}"
    if name == "runtime" and isinstance(value, int | float):
        return f"{name}={value:.3f}s"  # not 2.4e-05
    return f"{name}={value}"


@tasks_app.command("revoke")
def tasks_revoke(
    task_ids: Annotated[list[str], typer.Argument(help="Task ids.")],
    app: AppOption = None,
    terminate: Annotated[
        bool, typer.Option("--terminate", help="Also stop it if it is running (SIGTERM).")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Revoke queued, delayed, deferred or running tasks (audited): workers drop them
    when delivered, the delay store at once."""
    from stalwart.audit import os_user
    from stalwart.cli.output import console, print_json
    from stalwart.errors import StoreUnavailable
    from stalwart.ops.actions import revoke_task

    context = Context(app)
    if context.coordination() is None:  # revokes reach the workers alive now: none is
        raise StoreUnavailable(f"no worker to tell: {context.not_running()}")
    stalwart_app = context.app()
    done = [
        revoke_task(stalwart_app, task_id, actor=os_user(), terminate=terminate)
        for task_id in task_ids
    ]
    if as_json:
        print_json(done)
        return
    also = " and stopped if running" if terminate else ""
    for row in done:
        where = " (taken out of the delay store)" if row["removed_from_delay_store"] else ""
        text = f"revoked {row['task_id']}: skipped when delivered{also}{where}"
        console.print(text, highlight=False)


# Event fields that hold a moment as epoch seconds (shown as local + UTC + "in 3h 12m").
_TIME_FIELDS = frozenset({"until", "due", "eta", "at", "expires"})


def _render_tree(node: TaskNode, current: str, parent: Tree | None = None) -> Tree:
    from rich.markup import escape
    from rich.tree import Tree

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
