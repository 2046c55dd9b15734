"""``stalwart bench cli`` in miniature (CI runs each bench small; no timing is asserted)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable

Run = Callable[..., subprocess.CompletedProcess[str]]


def test_bench_cli_compares_every_command_with_celery_help(run_cli: Run) -> None:
    result = run_cli("bench", "cli", "--rounds", "1", "--tasks", "20", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    rows = {row["command"]: row for row in data["commands"]}
    assert list(rows) == [
        "celery --help",
        "stalwart --help",
        "stalwart tasks ls",
        "stalwart dlq ls",
        "stalwart limits",
        "stalwart health",
    ]
    assert rows["celery --help"]["ratio"] == 1.0
    assert rows["stalwart --help"]["target"] == 1.0
    assert {rows[c]["target"] for c in list(rows)[2:]} == {1.5}
    for row in rows.values():
        assert 0 < row["min"] <= row["median"] <= row["max"]
        assert row["cpu_median"] > 0 and row["cpu_ratio"] > 0
        assert row["met"] == (row["target"] is None or row["ratio"] <= row["target"])
    assert data["rounds"] == 1 and len(data["load_average"]) == 3
