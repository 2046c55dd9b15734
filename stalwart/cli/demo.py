"""``stalwart demo [--duration SECONDS]``: the reference application, one command."""

from __future__ import annotations

from typing import Annotated

import typer

from stalwart.cli.output import console

__all__ = ["demo"]


def demo(
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Console port.")] = 8000,
    duration: Annotated[
        float | None, typer.Option("--duration", min=1, help="Stop after this many seconds.")
    ] = None,
    concurrency: Annotated[int, typer.Option("-c", "--concurrency", min=1)] = 2,
) -> None:
    """Run the reference app with its whole stack (embedded stores, a worker, a workload)."""
    from stalwart.demo.runner import run_demo
    from stalwart.demo.tasks import app

    raise typer.Exit(run_demo(app, console, duration, concurrency))
