"""``stalwart queues``: depth, age of the oldest message, consumers, rate in/out."""

from __future__ import annotations

from typing import Annotated

import typer

from stalwart.cli.context import AppOption, Context

__all__ = ["queues"]


def queues(
    app: AppOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Every queue the broker knows or a worker consumes, with depth, age and rates."""
    from stalwart.cli.output import console, new_table, print_json
    from stalwart.ops.queues import RATE_WINDOW, list_queues

    context = Context(app)
    client = context.coordination()
    if client is None and context.settings.broker_url is None:
        empty = {"queues": [], "rate_window_seconds": RATE_WINDOW}
        context.nothing(as_json, empty, "no queues to show", context.not_running())
        return
    default = context.loaded.conf.task_default_queue if context.loaded is not None else "celery"
    engine = context.database()
    with context.reading():
        found = list_queues(context.settings, client, engine, str(default))
    rows = [row.as_dict() for row in found]
    if as_json:
        print_json({"queues": rows, "rate_window_seconds": RATE_WINDOW})
        return
    table = new_table(
        "queue",
        "depth",
        "oldest",
        "consumers",
        "in/s",
        "out/s",
        title="queues (rates: tasks/s over the last minute)",
        whole=("queue",),
    )
    for row in rows:
        age = "-" if row["oldest_age"] is None else f"{row['oldest_age']:.1f}s"
        table.add_row(
            row["queue"],
            str(row["depth"]),
            age,
            str(row["consumers"]),
            f"{row['rate_in']:.2f}",
            f"{row['rate_out']:.2f}",
        )
    console.print(table)
