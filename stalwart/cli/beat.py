"""``stalwart beat -A MODULE:APP``: the scheduler. Run as many as you like; one leads."""

from __future__ import annotations

import logging
import os
import signal
import socket
import uuid
from types import FrameType
from typing import Annotated

import typer

from stalwart.cli.context import load_app

__all__ = ["beat"]

_RESERVED_IDS = {"leader", "fence", "last", "pending"}
log = logging.getLogger("stalwart.beat")


def beat(
    app: Annotated[str, typer.Option("-A", "--app", help="MODULE:APP, e.g. crm.tasks:app")],
    tick: Annotated[
        float,
        typer.Option("--tick", min=0.05, help="Seconds between rounds (and lease refreshes)."),
    ] = 1.0,
    lease: Annotated[
        float,
        typer.Option(
            "--lease",
            min=0.1,
            help="Leader lease, seconds: a standby takes over "
            "within lease + tick of the leader's last refresh.",
        ),
    ] = 10.0,
    grace: Annotated[
        float | None,
        typer.Option(
            "--grace",
            min=0.0,
            help="A slot later than this is 'missed' and handled "
            "by its schedule's policy (default: lease + 2 ticks).",
        ),
    ] = None,
    beat_id: Annotated[
        str | None, typer.Option("--id", help="Name of this beat process (default: host-pid).")
    ] = None,
    loglevel: Annotated[str, typer.Option("-l", "--loglevel")] = "INFO",
) -> None:
    """Run the scheduler: schedules from the database, one fenced leader, each slot once."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    from stalwart.scheduler.beat import Beat
    from stalwart.scheduler.sync import sync_code_schedules
    from stalwart.services import ServiceRunner

    if lease < 2 * tick:
        raise typer.BadParameter(f"--lease ({lease}) must be at least two ticks ({tick})")
    beat_id = beat_id or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:4]}"
    if beat_id in _RESERVED_IDS or " " in beat_id:
        raise typer.BadParameter(f"--id {beat_id!r} is reserved or contains a space")
    logging.basicConfig(
        level=loglevel.upper(), format="[%(asctime)s: %(levelname)s/%(name)s] %(message)s"
    )
    stalwart_app = load_app(app)
    stalwart_app.check_configuration()
    stalwart_app.ensure_stores()
    stalwart_app.ensure_schema()
    stalwart_app.loader.import_default_modules()
    synced = sync_code_schedules(stalwart_app)
    if synced.added or synced.updated or synced.removed:
        log.info(
            "code schedules synced: added %s, updated %s, removed %s",
            synced.added,
            synced.updated,
            synced.removed,
        )
    # Its own client: short timeouts (a cut-off leader notices soon) and a name that
    # shows in CLIENT LIST.
    client = redis.Redis.from_url(
        stalwart_app.settings.effective_redis_url,
        socket_timeout=max(1.0, lease / 2),
        socket_connect_timeout=max(1.0, lease / 2),
        client_name=f"stalwart-beat:{beat_id}",
        retry=Retry(NoBackoff(), 1),
    )
    scheduler = Beat(
        stalwart_app, client=client, tick=tick, lease=lease, grace=grace, beat_id=beat_id
    )

    def _stop(signum: int, _frame: FrameType | None) -> None:
        log.info("beat %s: %s received, stopping", beat_id, signal.Signals(signum).name)
        scheduler.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    runner = ServiceRunner(stalwart_app.background_services())
    runner.start()
    try:
        scheduler.run()
    finally:
        runner.stop()
        client.close()
