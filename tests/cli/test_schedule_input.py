"""``stalwart schedules add`` refuses what would fail at every slot, in one line."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

import pytest

from stalwart.cli.main import main

APP = "tests.apps.scheduled:app"
TASK = "tests.apps.scheduled.tick"
ADD = ("schedules", "add", "x", "-A", APP, "--task", TASK)

Run = Callable[..., subprocess.CompletedProcess[str]]


def test_every_needs_a_unit(capsys: pytest.CaptureFixture[str]) -> None:
    # In-process (the same main() the console script runs); checked before the app
    # is imported: no store is touched.
    with pytest.raises(SystemExit) as exit_info:
        main([*ADD, "--every", "5"])
    assert exit_info.value.code == 2
    assert capsys.readouterr() == (
        "",
        "stalwart: error: --every '5' needs a unit: 5s, 5m, 5h or 5d\n",
    )


def test_arguments_must_fit_the_tasks_signature(run_cli: Run) -> None:
    refused = "stalwart: error: the arguments do not fit tests.apps.scheduled.tick(label=''): "
    hint = " (give them with --args '[...]' and --kwargs '{...}')"
    for call, problem in (
        (("--args", '["a", "b"]'), "too many positional arguments"),
        (("--kwargs", '{"lable": "x"}'), "got an unexpected keyword argument 'lable'"),
    ):
        result = run_cli(*ADD, "--every", "5m", *call)
        assert (result.returncode, result.stdout, result.stderr) == (
            2,
            "",
            refused + problem + hint + "\n",
        )
    listed = run_cli("schedules", "ls", "--json")
    assert (listed.returncode, listed.stdout.strip()) == (0, "[]"), listed.stderr
    added = run_cli(*ADD, "--every", "5m", "--args", '["ok"]')
    assert added.returncode == 0, added.stderr
    assert added.stdout.startswith("added x: every 5m, next slot ")
