"""The CRM's Alembic chain creates exactly the tables its models describe, on both stores,
and the calendar clock puts every run in business hours."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from stalwart.demo.calendar import BUSINESS_HOURS, NEW_YORK, business_offset
from stalwart.demo.migrate import is_current, upgrade
from stalwart.demo.models import crm_metadata


def test_the_migrations_match_the_models(database_url: str) -> None:
    engine = sa.create_engine(database_url)
    assert not is_current(engine)
    upgrade(engine)
    upgrade(engine)  # a second run changes nothing
    assert is_current(engine)
    with engine.connect() as db:
        differences = compare_metadata(MigrationContext.configure(db), crm_metadata)
    # Stalwart's tables are not the CRM's business; its own version table is Alembic's.
    assert [
        d for d in differences if "crm_" in str(d) and "crm_alembic_version" not in str(d)
    ] == []
    assert not [d for d in differences if d[0] != "remove_table"]
    engine.dispose()


def test_the_demo_clock_is_in_business_hours_with_an_hour_to_go_at_any_hour() -> None:
    start = 1_767_225_600.0  # 2026-01-01 00:00 UTC (a holiday), then every 20 minutes
    for step in range(0, 14 * 24 * 3):  # two weeks, weekends and MLK day included
        now = start + step * 1200
        shifted = now + business_offset(now)
        assert BUSINESS_HOURS.is_open(shifted, NEW_YORK), step
        assert BUSINESS_HOURS.is_open(shifted + 3599, NEW_YORK), step
        assert business_offset(now) >= 0
