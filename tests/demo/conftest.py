"""Fixtures of the CRM's tests: a CRM deployment per test, or one API per module."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from stalwart.settings import Settings
from tests.demo.crm import Crm
from tests.support.services import POSTGRES_URL, REDIS_HOST, REDIS_PORT, missing

MakeCrm = Callable[..., Crm]


@pytest.fixture
def make_crm(tmp_path: Path, make_settings: Callable[..., Settings]) -> Iterator[MakeCrm]:
    """``make_crm(database_url=..., clock_offset=..., plan=...)``: stopped at teardown."""
    made: list[Crm] = []

    def make(database_url: str | None = None, **kwargs: Any) -> Crm:
        overrides = {"database_url": database_url} if database_url else {}
        crm = Crm(make_settings(**overrides), tmp_path / f"crm{len(made)}", **kwargs)
        made.append(crm)
        return crm

    yield make
    for crm in made:
        crm.stop()


@pytest.fixture(scope="module")
def api_only(tmp_path_factory: pytest.TempPathFactory, redis_db: int) -> Iterator[Crm]:
    """The API alone on SQLite, shared by a module's HTTP-level tests (no worker runs)."""
    directory = tmp_path_factory.mktemp("api")
    yield from _api_alone(directory, f"sqlite:///{directory / 'crm.db'}", redis_db)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def store_api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, redis_db: int
) -> Iterator[Crm]:
    """The API alone, once on SQLite and once on a PostgreSQL database of its own."""
    directory = tmp_path_factory.mktemp("api")
    if request.param == "sqlite":
        yield from _api_alone(directory, f"sqlite:///{directory / 'crm.db'}", redis_db)
        return
    name = f"stalwart_api{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as db:
            db.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        missing("PostgreSQL", str(exc).splitlines()[0])
    url = sa.make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield from _api_alone(directory, url, redis_db)
    finally:
        with admin.connect() as db:
            db.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _api_alone(directory: Path, database_url: str, redis_db: int) -> Iterator[Crm]:
    settings = Settings(
        data_dir=directory / "data",
        broker_url=f"redis://{REDIS_HOST}:{REDIS_PORT}/{redis_db}",
        database_url=database_url,
    )
    crm = Crm(settings, directory)
    try:
        crm.start_api()
        yield crm
    finally:
        crm.stop()
