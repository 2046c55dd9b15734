"""``stalwart limits [--json]``: each throttle, quota, concurrency cap and breaker."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from stalwart.cli.output import console, print_json
from stalwart.cli.settings_option import resolve_settings
from stalwart.coordination import connect
from stalwart.flow.state import read_limits

__all__ = ["limits"]


def limits(
    app: Annotated[str | None, typer.Option("-A", "--app", help="MODULE:APP (optional)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show cluster-wide limits: limit, used, and when the next slot is free."""
    states = read_limits(connect(resolve_settings(app)))
    if as_json:
        print_json([state.as_dict() for state in states])
        return
    table = Table(title="Stalwart limits")
    for column in ("kind", "task", "key", "limit", "used", "next free"):
        table.add_column(column)
    for state in states:
        when = (
            datetime.fromtimestamp(state.next_free, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
            if state.next_free is not None
            else "now"
        )
        table.add_row(state.kind, state.task, state.key or "-", state.limit, str(state.used), when)
    if not states:
        console.print("no limits used yet (workers register them when tasks first run)")
        return
    console.print(table)
