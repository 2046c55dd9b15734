"""The schedules store on SQLite and PostgreSQL: validation, changes, audit rows, code sync."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from celery.schedules import crontab

from stalwart import Stalwart
from stalwart.audit import list_actions
from stalwart.errors import NotFound, ScheduleError
from stalwart.scheduler import store
from stalwart.scheduler.model import MissedPolicy, Origin, ScheduleKind, ScheduleSpec
from stalwart.scheduler.sync import sync_code_schedules
from stalwart.settings import Settings

TASKS = {"crm.sync", "crm.report"}


@pytest.fixture
def db_app(make_settings: Callable[..., Settings], database_url: str) -> Stalwart:
    app = Stalwart("store-tests", settings=make_settings(database_url=database_url))
    from stalwart.db.migrate import upgrade

    upgrade(app.engine)
    return app


def _cron(name: str = "nightly", **changes: object) -> ScheduleSpec:
    values: dict[str, object] = {
        "name": name,
        "task": "crm.sync",
        "kind": ScheduleKind.CRON,
        "cron": "30 2 * * *",
        "timezone": "Europe/Berlin",
        "args": [1, "a"],
        "kwargs": {"full": True},
        "options": {"queue": "periodic"},
    }
    values.update(changes)
    return ScheduleSpec(**values)  # type: ignore[arg-type]


def test_add_list_pause_resume_remove_with_audit(db_app: Stalwart) -> None:
    engine = db_app.engine
    added = store.add_schedule(engine, _cron(), actor="os:alice", known_tasks=TASKS)
    assert added.origin is Origin.DATABASE and added.enabled
    assert added.args == [1, "a"] and added.kwargs == {"full": True}
    assert added.active_since.tzinfo is not None
    assert [s.name for s in store.list_schedules(engine)] == ["nightly"]
    assert not store.set_enabled(engine, "nightly", False, actor="os:alice").enabled
    assert store.list_schedules(engine, enabled_only=True) == []
    before = store.get_schedule(engine, "nightly").active_since
    resumed = store.set_enabled(engine, "nightly", True, actor="os:bob")
    assert resumed.enabled and resumed.active_since >= before
    store.remove_schedule(engine, "nightly", actor="os:bob")
    with pytest.raises(NotFound, match="no schedule named 'nightly'"):
        store.get_schedule(engine, "nightly")
    actions = [(a.actor, a.action, a.target) for a in reversed(list_actions(engine))]
    assert actions == [
        ("os:alice", "schedule.add", "nightly"),
        ("os:alice", "schedule.pause", "nightly"),
        ("os:bob", "schedule.resume", "nightly"),
        ("os:bob", "schedule.remove", "nightly"),
    ]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (_cron(cron="61 2 * * *"), "'61 2 \\* \\* \\*' is not a valid cron expression"),
        (_cron(cron="every day"), "is not a valid cron expression"),
        (_cron(timezone="Mars/Olympus"), "time zone 'Mars/Olympus' is unknown"),
        (
            _cron(task="crm.nope"),
            "task 'crm.nope' is not registered in the app; known tasks: crm.report, crm.sync",
        ),
        (_cron(name="bad name"), "schedule name 'bad name' is invalid"),
        (_cron(options={"countdown": 5}), "unknown options \\['countdown'\\]"),
        (_cron(cron="0 0 31 2 *"), "never fires"),
        (
            ScheduleSpec(name="x", task="crm.sync", kind=ScheduleKind.INTERVAL, every=0),
            "interval must be at least 1ms",
        ),
        (
            ScheduleSpec(
                name="x", task="crm.sync", kind=ScheduleKind.AT, at=datetime(2000, 1, 1, tzinfo=UTC)
            ),
            "is in the past",
        ),
    ],
)
def test_invalid_schedules_are_refused_clearly(
    db_app: Stalwart, spec: ScheduleSpec, message: str
) -> None:
    with pytest.raises(ScheduleError, match=message):
        store.add_schedule(db_app.engine, spec, actor="t", known_tasks=TASKS)
    assert store.list_schedules(db_app.engine) == []


def test_duplicate_name_refused(db_app: Stalwart) -> None:
    store.add_schedule(db_app.engine, _cron(), actor="t")
    with pytest.raises(ScheduleError, match="already exists"):
        store.add_schedule(db_app.engine, _cron(), actor="t")


def test_last_slot_only_moves_forward(db_app: Stalwart) -> None:
    store.add_schedule(db_app.engine, _cron(), actor="t")
    later = datetime(2030, 1, 2, tzinfo=UTC)
    store.record_slots(db_app.engine, {"nightly": (later, True)})
    store.record_slots(db_app.engine, {"nightly": (later - timedelta(days=1), True)})
    stored = store.get_schedule(db_app.engine, "nightly")
    assert stored.last_slot == later and stored.last_fired_at is not None


def test_code_schedules_are_synced_and_marked(db_app: Stalwart) -> None:
    db_app.conf.timezone = "America/New_York"
    db_app.conf.beat_schedule = {
        "sync-every-30s": {"task": "crm.sync", "schedule": 30.0, "args": (1,)},
        "report": {
            "task": "crm.sync",
            "schedule": crontab(minute="0", hour="7", day_of_week="mon-fri"),
            "missed": "catch_up",
            "catch_up_max": 5,
            "options": {"queue": "reports"},
        },
        "hourly": {"task": "crm.sync", "schedule": timedelta(hours=1)},
    }
    report = sync_code_schedules(db_app)
    assert sorted(report.added) == ["hourly", "report", "sync-every-30s"]
    rows = {s.name: s for s in store.list_schedules(db_app.engine)}
    assert all(s.origin is Origin.CODE for s in rows.values())
    assert rows["sync-every-30s"].every == 30.0 and rows["sync-every-30s"].args == [1]
    assert rows["report"].cron == "0 7 * * mon-fri"
    assert rows["report"].timezone == "America/New_York"
    assert rows["report"].missed is MissedPolicy.CATCH_UP and rows["report"].catch_up_max == 5
    assert rows["hourly"].every == 3600.0
    # Unchanged code: nothing to do (several beats may sync at start).
    assert sync_code_schedules(db_app).updated == []
    # An operator pauses a code schedule; a code change keeps the pause.
    store.set_enabled(db_app.engine, "hourly", False, actor="os:ops")
    db_app.conf.beat_schedule["hourly"]["schedule"] = timedelta(hours=2)
    del db_app.conf.beat_schedule["sync-every-30s"]
    report = sync_code_schedules(db_app)
    assert report.updated == ["hourly"] and report.removed == ["sync-every-30s"]
    hourly = store.get_schedule(db_app.engine, "hourly")
    assert hourly.every == 7200.0 and not hourly.enabled
    with pytest.raises(ScheduleError, match="defined in code"):
        store.remove_schedule(db_app.engine, "report", actor="os:ops")
    actions = {a.action for a in list_actions(db_app.engine)}
    assert {"schedule.sync_add", "schedule.sync_update", "schedule.sync_remove"} <= actions


def test_database_schedule_of_the_same_name_wins(db_app: Stalwart) -> None:
    store.add_schedule(db_app.engine, _cron(name="report"), actor="os:ops")
    db_app.conf.beat_schedule = {"report": {"task": "crm.sync", "schedule": 60}}
    assert sync_code_schedules(db_app).shadowed == ["report"]
    assert store.get_schedule(db_app.engine, "report").kind is ScheduleKind.CRON


def test_bad_code_entry_is_named(db_app: Stalwart) -> None:
    db_app.conf.beat_schedule = {"weird": {"task": "crm.sync", "schedule": "daily"}}
    with pytest.raises(ScheduleError, match=r"beat_schedule\['weird'\]: 'schedule' must be"):
        sync_code_schedules(db_app)
