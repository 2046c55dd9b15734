"""``stalwart workers``: host, pid, pool, concurrency, last heartbeat, running tasks."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from stalwart.cli.history_app import open_app
from stalwart.cli.output import console, print_json
from stalwart.history.query import running_tasks
from stalwart.worker.heartbeat import list_workers

__all__ = ["workers"]


def workers(
    app: Annotated[str | None, typer.Option("-A", "--app", help="MODULE:APP (optional)")] = None,
    include_dead: Annotated[
        bool, typer.Option("--all", help="Include workers whose heartbeat stopped.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Workers with a recent heartbeat, and the tasks history shows running on them."""
    stalwart_app = open_app(app)
    infos = list_workers(stalwart_app.redis, include_dead=include_dead)
    running = running_tasks(stalwart_app.engine, [w.hostname for w in infos])
    rows: list[dict[str, Any]] = [
        {
            "hostname": w.hostname,
            "host": w.host,
            "pid": w.pid,
            "pool": w.pool,
            "concurrency": w.concurrency,
            "queues": list(w.queues),
            "last_heartbeat_age": round(w.age, 3),
            "alive": w.alive,
            "running": [
                {"task_id": t.task_id, "name": t.name} for t in running.get(w.hostname, [])
            ],
        }
        for w in infos
    ]
    if as_json:
        print_json({"workers": rows})
        return
    table = Table(title=f"{len(rows)} workers")
    for column in ("worker", "host", "pid", "pool", "conc.", "queues", "heartbeat", "running"):
        table.add_column(column)
    for row in rows:
        tasks = ", ".join(f"{t['name']}[{t['task_id'][:8]}]" for t in row["running"])
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
