"""``stalwart db upgrade``: bring the durable store to the current schema."""

from __future__ import annotations

import typer

from stalwart.cli.context import AppOption, Context

__all__ = ["db_app"]

db_app = typer.Typer(no_args_is_help=True, help="The durable store (SQL).")


@db_app.command("upgrade")
def db_upgrade(app: AppOption = None) -> None:
    """Apply every pending Alembic migration (creates the store if there is none)."""
    from stalwart.cli.output import console
    from stalwart.db.engine import create_engine_for
    from stalwart.db.migrate import current_revision, head_revision, upgrade

    context = Context(app)
    engine = create_engine_for(context.settings.effective_database_url)
    try:
        before = current_revision(engine)
        upgrade(engine)
        after = current_revision(engine)
    finally:
        engine.dispose()
    where = context.store_name()
    if before == after:
        console.print(f"database at {where} already at {after} ({head_revision()} is the newest)")
    else:
        console.print(f"database at {where} upgraded from {before or 'empty'} to {after}")
