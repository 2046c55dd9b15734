"""Alembic, driven from Python: ``upgrade(engine)`` is what ``stalwart db upgrade`` runs.

Alembic is imported only to migrate: reading which schema a database has
(:func:`stored_revision`, compared with :data:`HEAD`) is one plain query, so commands
that only read (``stalwart health``) stay quick.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine import Engine

__all__ = ["HEAD", "current_revision", "head_revision", "stored_revision", "upgrade"]

MIGRATIONS = Path(__file__).parent / "migrations"
# The newest revision under migrations/versions; tests/test_db.py checks it is Alembic's head.
HEAD = "0006"
log = logging.getLogger("stalwart.db")


def _config(engine: Engine | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if engine is not None:
        config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database to ``revision`` (default: the newest schema).

    Alembic's own INFO lines are kept out of the caller's log; one line says what changed.
    """
    before = current_revision(engine)
    with _quiet_alembic():
        from alembic import command

        command.upgrade(_config(engine), revision)
    after = current_revision(engine)
    if after != before:
        log.info("database schema upgraded from %s to %s", before or "empty", after)


def head_revision() -> str | None:
    with _quiet_alembic():
        from alembic.script import ScriptDirectory

        return ScriptDirectory.from_config(_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with _quiet_alembic(), engine.connect() as connection:
        from alembic.runtime.migration import MigrationContext

        return MigrationContext.configure(connection).get_current_revision()


@contextmanager
def _quiet_alembic() -> Iterator[None]:
    """Alembic logs 'Context impl SQLiteImpl.', each step, and (1.16+, on import) each
    plugin it sets up at INFO: not for our users. Import alembic inside this block."""
    alembic_log = logging.getLogger("alembic")
    level = alembic_log.level
    alembic_log.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        alembic_log.setLevel(level)


def stored_revision(engine: Engine) -> str | None:
    """The revision recorded in ``alembic_version`` (None: no Stalwart schema yet)."""
    import sqlalchemy as sa

    with engine.connect() as connection:
        if not sa.inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
