"""Engine creation for SQLite (the embedded default) and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from stalwart.errors import SettingsError

__all__ = ["create_engine_for", "metadata", "utc_now"]

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def utc_now() -> Any:
    """Server-independent 'now' for column defaults (timezone-aware UTC)."""
    from datetime import UTC, datetime

    return datetime.now(UTC)


def create_engine_for(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, a busy timeout and its directory created."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise SettingsError(
            f"STALWART_DATABASE_URL={url!r} is invalid: expected a SQLAlchemy URL such as "
            "'postgresql+psycopg://user@host/db' or 'sqlite:///path/stalwart.db'"
        ) from None
    try:
        if parsed.get_backend_name() == "sqlite":
            return _sqlite_engine(parsed)
        return sa.create_engine(parsed, pool_pre_ping=True, pool_size=5, max_overflow=5)
    except (NoSuchModuleError, ModuleNotFoundError) as exc:
        raise SettingsError(
            f"STALWART_DATABASE_URL={url!r} needs a driver that is not installed ({exc}); "
            "for PostgreSQL install 'stalwart[postgres]'"
        ) from None


def _sqlite_engine(url: sa.URL) -> Engine:
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"timeout": 30})

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine
