"""``stalwart health [--json]``: exit 0 when healthy, 1 when not."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from stalwart.cli.output import console, print_json
from stalwart.cli.settings_option import resolve_settings
from stalwart.health import check_health

__all__ = ["health"]


def health(
    app: Annotated[str | None, typer.Option("-A", "--app", help="MODULE:APP (optional)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Check the broker, the coordination store, the database and worker heartbeats."""
    report = check_health(resolve_settings(app))
    if as_json:
        print_json(report.as_dict())
    else:
        table = Table(title="Stalwart health")
        table.add_column("component")
        table.add_column("status")
        table.add_column("detail")
        for check in report.checks:
            status = "[green]ok[/]" if check.ok else "[red]FAIL[/]"
            table.add_row(check.name, status, check.detail)
        console.print(table)
    raise typer.Exit(0 if report.ok else 1)
