"""Shared CLI output: one Rich console, tables that never cut an id, JSON printing.

Outside a terminal (a pipe, a file, CI logs) the console is wide enough that nothing is
wrapped or cut: a task id or a number is always printed whole, on one line. In a
terminal, columns that hold ids are never wrapped either; other columns give way.
"""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.table import Table

__all__ = ["console", "err_console", "new_table", "print_json"]

# Wide enough for any row; Rich lays a table out at its natural width within it.
UNBOUNDED = 100_000


def _console(stderr: bool = False) -> Console:
    console = Console(stderr=stderr)
    if not console.is_terminal:
        console = Console(stderr=stderr, width=UNBOUNDED)
    return console


console = _console()
err_console = _console(stderr=True)


def new_table(*columns: str, title: str | None = None, whole: tuple[str, ...] = ()) -> Table:
    """A table with these columns; those named in ``whole`` (ids) are never wrapped or cut."""
    table = Table(title=title)
    for column in columns:
        if column in whole:
            table.add_column(column, no_wrap=True, overflow="ignore", min_width=len(column))
        else:
            table.add_column(column)
    return table


def print_json(data: Any) -> None:
    """Machine-readable output for ``--json`` (plain print: no Rich markup or wrapping)."""
    print(json.dumps(data, indent=2, default=str))
