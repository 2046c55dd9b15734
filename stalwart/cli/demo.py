"""``stalwart demo [--duration S] [--port P] [--json]``: the reference application, one command."""

from __future__ import annotations

from typing import Annotated

import typer

__all__ = ["demo"]


def demo(
    port: Annotated[
        int,
        typer.Option("--port", min=1, max=65534, help="Console port; the CRM API uses port + 1."),
    ] = 8000,
    duration: Annotated[
        float | None,
        typer.Option("--duration", min=1, help="Run the workload this many seconds, then settle."),
    ] = None,
    json: Annotated[bool, typer.Option("--json", help="Print the account as JSON.")] = False,
    concurrency: Annotated[
        int, typer.Option("-c", "--concurrency", min=1, help="Processes of the campaigns worker.")
    ] = 3,
) -> None:
    """Run the reference CRM with its whole stack, inject faults, and account for every message."""
    # Heavy imports here, not at module level: `stalwart --help` must stay fast.
    from rich.console import Console

    from stalwart.demo.runner import DemoOptions, run_demo
    from stalwart.demo.tasks import app

    out = Console(stderr=json)
    options = DemoOptions(duration=duration, port=port, json=json, concurrency=concurrency)
    status, _ = run_demo(app, options, out)
    raise typer.Exit(status)
