"""Operator actions on the delay store and schedule previews (real Redis and SQLite)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from stalwart import Stalwart
from stalwart.audit import list_actions
from stalwart.delays.store import DUE_KEY
from stalwart.errors import ActionRefused, ScheduleError
from stalwart.ops import actions
from stalwart.ops.schedules import build_spec, fire_times
from stalwart.settings import Settings


@pytest.fixture
def app(settings: Settings) -> Stalwart:
    stalwart_app = Stalwart("actions", settings=settings)
    stalwart_app.ensure_schema()
    return stalwart_app


def _waiting(app: Stalwart, task_id: str) -> None:
    signature = app.signature("tests.apps.basic.add", args=(1, 2)).set(task_id=task_id)
    app.delays.add(signature, 3600)


def test_retry_now_makes_a_waiting_task_due_and_revoke_removes_it(app: Stalwart) -> None:
    _waiting(app, "waiting-1")
    client = app.delays.client
    (before,) = [score for _member, score in client.zrange(DUE_KEY, 0, -1, withscores=True)]
    assert actions.retry_now(app, "waiting-1", actor="console:ann") == {
        "task_id": "waiting-1", "due_now": True,
    }  # fmt: skip
    (after,) = [score for _member, score in client.zrange(DUE_KEY, 0, -1, withscores=True)]
    assert after <= before - 3590  # due now (Redis clock), not in an hour
    done = actions.revoke_task(app, "waiting-1", actor="console:ann")
    assert done["removed_from_delay_store"] is True
    assert client.zcard(DUE_KEY) == 0
    with pytest.raises(ActionRefused, match="is not waiting for a retry or a deferral"):
        actions.retry_now(app, "waiting-1", actor="console:ann")
    audit = [(a.action, a.actor, a.target) for a in list_actions(app.engine)]
    assert audit == [("task.revoke", "console:ann", "waiting-1"),
                     ("task.retry_now", "console:ann", "waiting-1")]  # fmt: skip


def test_next_five_fire_times_in_the_schedules_zone() -> None:
    spec = build_spec("nightly", "t", default_zone="UTC", cron="30 2 * * *", tz="Europe/Berlin")
    now = datetime(2024, 3, 29, 12, 0, tzinfo=UTC)  # Berlin springs forward on March 31
    local = [t.astimezone(ZoneInfo("Europe/Berlin")).isoformat() for t in fire_times(spec, now)]
    assert local == [
        "2024-03-30T02:30:00+01:00", "2024-03-31T03:30:00+02:00", "2024-04-01T02:30:00+02:00",
        "2024-04-02T02:30:00+02:00", "2024-04-03T02:30:00+02:00",
    ]  # fmt: skip
    with pytest.raises(ScheduleError, match="is not a valid cron expression"):
        build_spec("bad", "t", default_zone="UTC", cron="61 * * * *")
    with pytest.raises(ScheduleError, match="exactly one of"):
        build_spec("bad", "t", default_zone="UTC", cron="* * * * *", every="5m")
