"""The durable store: migrations and the audit log, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

import pytest

from stalwart import SettingsError, Stalwart
from stalwart.audit import list_actions, record_action
from stalwart.db.engine import create_engine_for
from stalwart.db.migrate import current_revision, head_revision
from stalwart.settings import Settings

Run = Callable[..., subprocess.CompletedProcess[str]]


def test_db_upgrade_then_audit_round_trip(
    database_url: str, make_settings: Callable[..., Settings], run_cli: Run
) -> None:
    settings = make_settings(database_url=database_url)
    first = run_cli("db", "upgrade", settings=settings)
    assert first.returncode == 0, first.stderr
    assert f"to {head_revision()}" in first.stdout
    again = run_cli("db", "upgrade", settings=settings)
    assert again.returncode == 0
    assert "already at" in again.stdout

    engine = create_engine_for(database_url)
    assert current_revision(engine) == head_revision()
    with engine.begin() as db:
        record_action(db, actor="os:ann", action="dlq.replay", target="t1", count=3)
    [entry] = list_actions(engine, limit=5)
    assert (entry.actor, entry.action, entry.target, entry.count) == (
        "os:ann",
        "dlq.replay",
        "t1",
        3,
    )
    assert entry.at.tzinfo is not None
    engine.dispose()


def test_sqlite_is_upgraded_automatically(make_settings: Callable[..., Settings]) -> None:
    app = Stalwart("t", settings=make_settings())
    app.ensure_schema()
    assert current_revision(app.engine) == head_revision()


def test_other_databases_must_be_upgraded_on_purpose(
    make_settings: Callable[..., Settings], postgres_url: str
) -> None:
    app = Stalwart("t", settings=make_settings(database_url=postgres_url))
    with pytest.raises(SettingsError, match="run 'stalwart db upgrade'"):
        app.ensure_schema()
    app.engine.dispose()


def test_a_bad_database_url_is_a_settings_error() -> None:
    with pytest.raises(SettingsError, match="STALWART_DATABASE_URL='nonsense' is invalid"):
        create_engine_for("nonsense")
