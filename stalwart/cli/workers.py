"""``stalwart workers``: host, pid, pool, concurrency, last heartbeat, running tasks."""

from __future__ import annotations

from typing import Annotated

import typer

from stalwart.cli.context import AppOption, Context

__all__ = ["workers"]


def workers(
    app: AppOption = None,
    include_dead: Annotated[
        bool, typer.Option("--all", help="Include workers whose heartbeat stopped.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Workers with a recent heartbeat, and the tasks history shows running on them."""
    from rich.markup import escape

    from stalwart.cli.output import console, new_table, print_json
    from stalwart.ops.workers import list_worker_rows

    context = Context(app)
    client = context.coordination()
    if client is None:
        context.nothing(as_json, {"workers": []}, "no workers", context.not_running())
        return
    engine = context.database()
    with context.reading():
        rows = [row.as_dict() for row in list_worker_rows(client, engine, include_dead)]
    if as_json:
        print_json({"workers": rows})
        return
    table = new_table(
        "worker",
        "host",
        "pid",
        "pool",
        "conc.",
        "queues",
        "heartbeat",
        "running",
        title=f"{len(rows)} workers",
        whole=("worker",),
    )
    for row in rows:
        tasks = ", ".join(f"{t['name']}[{t['task_id']}]" for t in row["running"])
        beat = f"{row['last_heartbeat_age']:.1f}s ago" + ("" if row["alive"] else " (dead)")
        table.add_row(
            escape(row["hostname"]),
            escape(row["host"]),
            str(row["pid"]),
            row["pool"],
            str(row["concurrency"]),
            escape(",".join(row["queues"])),
            beat,
            escape(tasks or "-"),
        )
    console.print(table)
