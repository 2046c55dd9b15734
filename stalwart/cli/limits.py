"""``stalwart limits [--json]``: each throttle, quota, concurrency cap and breaker."""

from __future__ import annotations

from typing import Annotated

import typer

from stalwart.cli.context import AppOption, Context

__all__ = ["limits"]


def limits(
    app: AppOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show cluster-wide limits: limit, used, and when the next slot is free."""
    from stalwart.cli.output import console, new_table, print_json
    from stalwart.formatting import when
    from stalwart.limits.state import read_limits

    context = Context(app)
    client = context.coordination()
    if client is None:
        context.nothing(as_json, [], "no limits to show", context.not_running())
        return
    states = read_limits(client)
    if as_json:
        print_json([state.as_dict() for state in states])
        return
    if not states:
        console.print("no limits used yet (workers register them when tasks first run)")
        return
    table = new_table("kind", "task", "key", "limit", "used", "next free", title="Stalwart limits")
    for state in states:
        free = when(state.next_free) if state.next_free is not None else "now"
        table.add_row(state.kind, state.task, state.key or "-", state.limit, str(state.used), free)
    console.print(table)
