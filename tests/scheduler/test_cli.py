"""``stalwart schedules ...`` against a running ``stalwart beat`` and worker (all real).

Changes made through the CLI apply within one tick, without restarting beat, and each
one is in the audit log. Bad input gets one clear line and exit status 2.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from datetime import datetime

import pytest
import redis

from stalwart import Stalwart
from stalwart.audit import list_actions
from stalwart.cli.main import main
from stalwart.settings import Settings
from tests.scheduler.support import BeatProcess, Run, worker_runs
from tests.support.workers import WorkerProcess, settings_env, wait_for

APP = "tests.apps.scheduled:app"
TASK = "tests.apps.scheduled.tick"
TICK = 0.5
# Worker pickup and a loaded 2-core machine: slack on top of the one-tick promise.
SLACK = 1.0

Cli = Callable[..., subprocess.CompletedProcess[str]]


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def _ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_changes_apply_to_a_running_beat_within_a_tick(
    start_worker: Callable[..., WorkerProcess],
    start_beat: Callable[..., BeatProcess],
    run_cli: Cli,
    redis_client: redis.Redis,
    settings: Settings,
) -> None:
    start_worker(APP, args=("-c", "2"))
    start_beat("only", args=("--tick", str(TICK), "--lease", "2"))

    _ok(
        run_cli(
            "schedules", "add", "rt", "-A", APP, "--task", TASK, "--every", "1s", "--args", '["rt"]'
        )
    )
    listed = {s["name"]: s for s in json.loads(_ok(run_cli("schedules", "ls", "--json")))}
    assert listed["code-hourly"]["origin"] == "code"  # synced from beat_schedule at start
    assert listed["rt"]["origin"] == "database"
    created = _ts(listed["rt"]["created_at"])
    wait_for(lambda: len(worker_runs(redis_client, "rt")) >= 3, 15, what="three runs")
    first = worker_runs(redis_client, "rt")[0]
    assert abs(first.slot_time - (created + 1.0)) < 0.01  # the very first slot fired
    assert first.ran_at - first.slot_time <= TICK + SLACK

    before_pause = time.time()
    _ok(run_cli("schedules", "pause", "rt"))
    paused_at = time.time()
    time.sleep(2 * TICK + 1.5)
    runs = worker_runs(redis_client, "rt")
    assert runs and max(r.slot_time for r in runs) <= paused_at + TICK
    time.sleep(1.0)

    # Runs are told apart by their slot, not by count: a slot fired just before the
    # pause took effect may still be running on a slow machine, legitimately.
    def resumed() -> list[Run]:
        runs = worker_runs(redis_client, "rt")
        return sorted((r for r in runs if r.slot_time > paused_at + TICK), key=lambda r: r.ran_at)

    assert resumed() == []  # nothing while paused
    _ok(run_cli("schedules", "resume", "rt"))
    resumed_at = time.time()
    wait_for(resumed, 10, what="resumed")
    after = resumed()[0]
    assert after.slot_time > before_pause  # paused slots were not fired on resume
    assert after.ran_at - resumed_at <= 1.0 + TICK + SLACK

    _ok(run_cli("schedules", "run-now", "rt", "-A", APP))
    wait_for(
        lambda: any(r.slot.startswith("manual-") for r in worker_runs(redis_client, "rt")),
        10,
        what="manual run",
    )

    _ok(run_cli("schedules", "rm", "rt"))
    removed_at = time.time()
    time.sleep(2 * TICK + 1.5)
    late = [r for r in worker_runs(redis_client, "rt") if r.slot_time > removed_at + TICK]
    assert late == []

    slots = [r.slot for r in worker_runs(redis_client, "rt")]
    assert len(slots) == len(set(slots))
    app = Stalwart("audit-reader", settings=settings)
    operator = [a for a in reversed(list_actions(app.engine)) if a.target == "rt"]
    actions = [(a.action, a.target) for a in operator]
    assert actions == [
        ("schedule.add", "rt"),
        ("schedule.pause", "rt"),
        ("schedule.resume", "rt"),
        ("schedule.run_now", "rt"),
        ("schedule.remove", "rt"),
    ]
    assert all(a.actor.startswith("os:") for a in operator)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--cron", "61 * * * *"), "'61 * * * *' is not a valid cron expression"),
        (("--cron", "*/5 * * * *", "--tz", "Nowhere/City"), "time zone 'Nowhere/City' is unknown"),
        (("--every", "soon"), "interval 'soon' is invalid"),
        (("--every", "1s", "--cron", "* * * * *"), "exactly one of --cron, --every or --at"),
        (("--every", "1s", "--args", "{"), "--args is not valid JSON"),
        (("--every", "1s", "--args", '{"a": 1}'), "--args must be a JSON list"),
        (("--at", "tomorrow"), "--at 'tomorrow' is not an ISO 8601 time"),
        (("--every", "1s", "--missed", "sometimes"), "Invalid value for '--missed'"),
    ],
)
def test_bad_input_is_refused_with_one_line(
    args: tuple[str, ...], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # In-process (the same main() the console script runs): input is checked before
    # the app is imported, so no stores are touched.
    with pytest.raises(SystemExit) as exit_info:
        main(["schedules", "add", "bad", "-A", APP, "--task", TASK, *args])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert message in err


def test_unknown_task_and_missing_app_are_refused(
    run_cli: Cli,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    result = run_cli("schedules", "add", "x", "-A", APP, "--task", "nope.task", "--every", "5s")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "task 'nope.task' is not registered in the app; known tasks:" in result.stderr
    assert TASK in result.stderr
    # The rest in-process (same main(), settings from the environment as a shell has them).
    for name, value in settings_env(settings).items():
        monkeypatch.setenv(name, value)

    def run(*args: str) -> tuple[int, str, str]:
        with pytest.raises(SystemExit) as exit_info:
            main(list(args))
        out, err = capsys.readouterr()
        return int(exit_info.value.code or 0), out, err

    code, _, err = run("schedules", "add", "x", "--task", TASK, "--every", "5s")
    assert code == 2 and "needs -A MODULE:APP" in err
    code, _, err = run("schedules", "pause", "ghost")
    assert code == 2 and "no schedule named 'ghost'" in err
    code, out, _ = run("schedules", "ls", "--json")
    assert code == 0 and json.loads(out) == []
