"""``stalwart health [--json]``: exit 0 when healthy, 1 when not. Starts nothing."""

from __future__ import annotations

from typing import Annotated

import typer

from stalwart.cli.context import AppOption, Context

__all__ = ["health"]


def health(
    app: AppOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Check the broker, the coordination store, the database and worker heartbeats."""
    from stalwart.cli.output import console, new_table, print_json
    from stalwart.health import check_health

    report = check_health(Context(app).settings)
    if as_json:
        print_json(report.as_dict())
    else:
        table = new_table("component", "status", "detail", title="Stalwart health")
        for check in report.checks:
            status = "[green]ok[/]" if check.ok else "[red]FAIL[/]"
            table.add_row(check.name, status, check.detail)
        console.print(table)
    raise typer.Exit(0 if report.ok else 1)
