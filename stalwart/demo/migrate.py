"""Alembic for the CRM's tables (``python -m stalwart.demo migrate``), beside Stalwart's.

The CRM keeps its own migration chain and version table (``crm_alembic_version``) in
the same database, as an application built on Stalwart would.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

__all__ = ["is_current", "upgrade"]

MIGRATIONS = Path(__file__).parent / "migrations"


def _config(engine: Engine | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if engine is not None:
        config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine) -> None:
    """Bring the CRM's tables to the newest schema."""
    command.upgrade(_config(engine), "head")


def is_current(engine: Engine) -> bool:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"version_table": "crm_alembic_version"}
        )
        current = context.get_current_revision()
    return current == ScriptDirectory.from_config(_config()).get_current_head()
