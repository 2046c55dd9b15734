"""``stalwart queues``: depth, age of the oldest message, consumers, rate in/out."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from stalwart.cli.history_app import open_app
from stalwart.cli.output import console, print_json
from stalwart.history.brokers import probe_for
from stalwart.history.query import queue_rates
from stalwart.worker.heartbeat import list_workers

__all__ = ["queues"]

RATE_WINDOW = 60.0


def queues(
    app: Annotated[str | None, typer.Option("-A", "--app", help="MODULE:APP (optional)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Every queue the broker knows or a worker consumes, with depth, age and rates."""
    stalwart_app = open_app(app)
    workers = list_workers(stalwart_app.redis)
    probe = probe_for(stalwart_app.settings)
    try:
        names = set(probe.queue_names()) | {q for w in workers for q in w.queues}
        names.add(str(stalwart_app.conf.task_default_queue))
        states = [probe.state(name) for name in sorted(names)]
    finally:
        probe.close()
    rates = queue_rates(stalwart_app.engine, [s.name for s in states], RATE_WINDOW)
    rows: list[dict[str, Any]] = []
    for state in states:
        consumers = state.consumers
        if consumers is None:
            consumers = sum(1 for w in workers if state.name in w.queues)
        rows.append(
            {
                "queue": state.name,
                "depth": state.depth,
                "oldest_age": None if state.oldest_age is None else round(state.oldest_age, 3),
                "consumers": consumers,
                "rate_in": round(rates[state.name]["in"], 3),
                "rate_out": round(rates[state.name]["out"], 3),
            }
        )
    if as_json:
        print_json({"queues": rows, "rate_window_seconds": RATE_WINDOW})
        return
    table = Table(title="queues (rates: tasks/s over the last minute)")
    for column in ("queue", "depth", "oldest", "consumers", "in/s", "out/s"):
        table.add_column(column)
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
