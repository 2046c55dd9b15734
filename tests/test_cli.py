"""The CLI: a user's mistake is one clear line on stderr and exit status 2, no traceback."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

from stalwart import __version__

Run = Callable[..., subprocess.CompletedProcess[str]]


def assert_one_line_error(result: subprocess.CompletedProcess[str], expected: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("stalwart: error: ")
    assert expected in lines[0]


def test_version(run_cli: Run) -> None:
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"stalwart {__version__}"


def test_bad_flag(run_cli: Run) -> None:
    # Celery's worker options pass through; Celery's parser judges them, before any store.
    result = run_cli("worker", "-A", "tests.apps.basic:app", "--bogus")
    assert_one_line_error(
        result,
        "stalwart: error: No such option '--bogus'. (see 'stalwart worker --help' and "
        "'celery worker --help')",
    )
    assert result.stderr.count("\n") == 1


def test_bad_pool_value(run_cli: Run) -> None:
    result = run_cli("worker", "-A", "tests.apps.basic:app", "--pool", "gevent-ish")
    assert_one_line_error(result, "Invalid value for '-P' / '--pool': 'gevent-ish' is not one of")


def test_unknown_command(run_cli: Run) -> None:
    assert_one_line_error(run_cli("wrker"), "No such command 'wrker'")


def test_bad_app_target_module(run_cli: Run) -> None:
    result = run_cli("worker", "-A", "no_such_pkg.tasks:app")
    assert_one_line_error(result, "no module named 'no_such_pkg'")


def test_bad_app_target_attribute(run_cli: Run) -> None:
    result = run_cli("worker", "-A", "tests.apps.basic:nope")
    assert_one_line_error(result, "has no attribute 'nope'")


def test_plain_celery_app_is_refused_with_the_fix(run_cli: Run) -> None:
    result = run_cli("worker", "-A", "tests.apps.plain_celery:app")
    assert_one_line_error(result, "change Celery(...) to Stalwart(...)")


def test_settings_error(run_cli: Run) -> None:
    result = run_cli("health", env={"STALWART_MAX_DELIVERIES": "many"})
    assert_one_line_error(result, "STALWART_MAX_DELIVERIES='many' is invalid")


def test_unordered_timeout_overrides_are_refused(run_cli: Run) -> None:
    result = run_cli("worker", "-A", "tests.apps.bad_timeouts:app")
    assert_one_line_error(result, "task_soft_time_limit (900) must be below task_time_limit (600)")
