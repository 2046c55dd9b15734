"""What the CLI prints: times people can read, ids never cut, JSON where JSON is due,
and only the queues where tasks wait."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import redis

from stalwart import Stalwart
from stalwart.compat.kombu_layout import SEP
from stalwart.deadletter.record import DeadLetter
from stalwart.deadletter.tables import DeadReason
from stalwart.deadletter.writer import write_dead_letter
from stalwart.events import EventKind, TaskEvent
from stalwart.formatting import relative, span, when
from stalwart.history.writer import StreamEvent, write_batch

Run = Callable[..., subprocess.CompletedProcess[str]]
# Longer than any column Rich would give it in 80 columns.
LONG_ID = "order-import-2024-05-01-chunk-0042-" + "9f1c2e7a" * 4


@pytest.fixture
def app(migrated_app: Stalwart) -> Stalwart:
    return migrated_app


def record(
    app: Stalwart, task_id: str, *events: tuple[EventKind, float, dict[str, object]]
) -> None:
    stream = [
        StreamEvent(f"{task_id}-{n}", TaskEvent(kind, task_id, "crm.send_sms", at, fields))
        for n, (kind, at, fields) in enumerate(events)
    ]
    with app.engine.begin() as db:
        write_batch(db, stream)


def test_durations_and_moments() -> None:
    assert [span(s) for s in (0, 42, 250, 3600, 11_520, 90_061)] == [
        "0s", "42s", "4m 10s", "1h", "3h 12m", "1d 1h",
    ]  # fmt: skip
    assert relative(1000.0, now=1000.2) == "now"
    assert relative(1000.0, now=1300.0) == "5m ago"
    new_york = ZoneInfo("America/New_York")
    at, now = 1_796_180_412.41, 1_796_180_412.41 - 11_520
    assert when(at, now=now, zone=new_york) == (
        "2026-12-01 22:00:12 EST (2026-12-02 03:00:12 UTC, in 3h 12m)"
    )
    assert when(at, now=now, zone=UTC) == "2026-12-02 03:00:12 UTC (in 3h 12m)"


def test_long_lines_are_not_wrapped_outside_a_terminal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from stalwart.cli.output import console

    number = "1234567890" * 30  # a long number, as the demo's account prints
    console.print(f"sent {number} messages", highlight=False)
    assert capsys.readouterr().out == f"sent {number} messages\n"


def test_timeline_shows_local_and_utc_times_and_how_far(run_cli: Run, app: Stalwart) -> None:
    now = time.time()
    until = now + 3 * 3600 + 12 * 60 + 30
    record(
        app,
        "t-deferred",
        (EventKind.SENT, now - 1, {"queue": "celery"}),
        (EventKind.DEFERRED, now, {"reason": "quota", "until": until}),
    )
    shown = run_cli("tasks", "show", "t-deferred", env={"TZ": "America/New_York"})
    assert shown.returncode == 0, shown.stderr
    local = datetime.fromtimestamp(until, ZoneInfo("America/New_York"))
    utc = datetime.fromtimestamp(until, UTC)
    expected = (
        f"reason=quota, until={local:%Y-%m-%d %H:%M:%S} {local.tzname()} "
        f"({utc:%Y-%m-%d %H:%M:%S} UTC, in 3h 12m)"
    )
    [row] = [line for line in shown.stdout.splitlines() if "deferred" in line and "until=" in line]
    assert row.rstrip(" │").endswith(expected), row
    assert str(round(until, 2)) not in shown.stdout  # no raw epoch seconds

    record(app, "t-quick", (EventKind.SUCCEEDED, now, {"runtime": 2.4e-05}))
    quick = run_cli("tasks", "show", "t-quick")
    assert quick.returncode == 0, quick.stderr
    assert "runtime=0.000s" in quick.stdout and "e-05" not in quick.stdout


def test_tables_outside_a_terminal_keep_ids_whole(run_cli: Run, app: Stalwart) -> None:
    record(app, LONG_ID, (EventKind.SENT, time.time(), {"queue": "imports"}))
    write_dead_letter(app, draft(LONG_ID))
    for args in (("tasks", "ls"), ("dlq", "ls")):
        # Even with COLUMNS=40 (a narrow terminal's setting), a pipe gets whole ids.
        result = run_cli(*args, env={"COLUMNS": "40"})
        assert result.returncode == 0, result.stderr
        [row] = [line for line in result.stdout.splitlines() if LONG_ID in line]
        assert "…" not in row


def test_dlq_show_prints_arguments_as_json(run_cli: Run, app: Stalwart) -> None:
    write_dead_letter(app, draft("t-dead"))
    result = run_cli("dlq", "show", "t-dead")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert '            args  [1,"two",null]' in lines
    assert '          kwargs  {"to":"+15550100","dry_run":true}' in lines
    assert "          reason  failed" in lines


def test_queues_lists_only_where_tasks_wait(run_cli: Run, redis_client: redis.Redis) -> None:
    # kombu's bindings as a worker with -E and remote control leaves them.
    redis_client.sadd("_kombu.binding.celery", f"parked{SEP}{SEP}parked")
    redis_client.sadd("_kombu.binding.celeryev", f"worker.#{SEP}{SEP}celeryev.5f0e6c2b")
    redis_client.sadd("_kombu.binding.celery.pidbox", f"{SEP}{SEP}w1@host.celery.pidbox")
    result = run_cli("queues", "--json")
    assert result.returncode == 0, result.stderr
    assert [q["queue"] for q in json.loads(result.stdout)["queues"]] == ["celery", "parked"]


def draft(task_id: str) -> DeadLetter:
    at = datetime.now(UTC)
    return DeadLetter(
        task_id=task_id,
        name="crm.send_sms",
        queue="celery",
        args=[1, "two", None],
        kwargs={"to": "+15550100", "dry_run": True},
        options={},
        reason=DeadReason.FAILED.value,
        exc_type="builtins.ValueError",
        exc_message="invalid number",
        traceback="Traceback (most recent call last):\nValueError: invalid number\n",
        attempts=1,
        first_failed_at=at,
        last_failed_at=at,
        root_id=task_id,
        parent_id=None,
        replay_of=None,
        worker="w1@host",
    )
