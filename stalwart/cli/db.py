"""``stalwart db upgrade``: bring the durable store to the current schema."""

from __future__ import annotations

from typing import Annotated

import typer

from stalwart.cli.output import console
from stalwart.cli.settings_option import resolve_settings
from stalwart.db.engine import create_engine_for
from stalwart.db.migrate import current_revision, head_revision, upgrade

__all__ = ["db_app"]

db_app = typer.Typer(no_args_is_help=True, help="The durable store (SQL).")


@db_app.command("upgrade")
def db_upgrade(
    app: Annotated[str | None, typer.Option("-A", "--app", help="MODULE:APP (optional)")] = None,
) -> None:
    """Apply every pending Alembic migration."""
    settings = resolve_settings(app)
    engine = create_engine_for(settings.effective_database_url)
    try:
        before = current_revision(engine)
        upgrade(engine)
        after = current_revision(engine)
    finally:
        engine.dispose()
    if before == after:
        console.print(f"database already at {after} ({head_revision()} is the newest)")
    else:
        console.print(f"database upgraded from {before or 'empty'} to {after}")
