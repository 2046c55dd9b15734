"""Shared CLI output: one Rich console, JSON printing, the error line."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console

__all__ = ["console", "err_console", "print_json"]

console = Console()
err_console = Console(stderr=True)


def print_json(data: Any) -> None:
    """Machine-readable output for ``--json`` (plain print: no Rich markup or wrapping)."""
    print(json.dumps(data, indent=2, default=str))
