"""``stalwart worker -A MODULE:APP``: a Celery worker with Stalwart's hooks and defaults."""

from __future__ import annotations

import os
import socket
from enum import StrEnum
from typing import Annotated

import typer

from stalwart.cli.target import load_app
from stalwart.errors import StoreUnavailable
from stalwart.health import check_health

__all__ = ["worker"]


class Pool(StrEnum):
    prefork = "prefork"
    threads = "threads"
    solo = "solo"


def worker(
    app: Annotated[str, typer.Option("-A", "--app", help="MODULE:APP, e.g. crm.tasks:app")],
    queues: Annotated[
        str | None, typer.Option("-Q", "--queues", help="Comma-separated queues to consume.")
    ] = None,
    concurrency: Annotated[
        int | None, typer.Option("-c", "--concurrency", min=1, help="Processes/threads.")
    ] = None,
    pool: Annotated[Pool, typer.Option("--pool", help="Execution pool.")] = Pool.prefork,
    hostname: Annotated[
        str | None, typer.Option("-n", "--hostname", help="Worker name (default: pid@host).")
    ] = None,
    loglevel: Annotated[str, typer.Option("-l", "--loglevel")] = "INFO",
) -> None:
    """Run a worker. Every guarantee also holds under plain `celery -A ... worker`."""
    stalwart_app = load_app(app)
    stalwart_app.check_configuration()
    stalwart_app.ensure_stores()
    stalwart_app.ensure_schema()
    broker = check_health(stalwart_app.settings).checks[0]
    if not broker.ok:
        raise StoreUnavailable(f"STALWART_BROKER_URL: {broker.detail}")
    argv = [
        "worker",
        f"--loglevel={loglevel}",
        f"--pool={pool.value}",
        f"--concurrency={concurrency or os.cpu_count() or 1}",
        f"--hostname={hostname or f'{os.getpid()}@{socket.gethostname()}'}",
    ]
    if queues:
        argv.append(f"--queues={queues}")
    stalwart_app.worker_main(argv)
