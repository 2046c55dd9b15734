"""``stalwart bench history`` in miniature (the full run is in docs/PERFORMANCE.md)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable

import pytest

from tests.support.services import POSTGRES_URL


@pytest.mark.usefixtures("postgres_url")  # skips (or fails in CI) without PostgreSQL
def test_tiny_history_bench_runs(run_cli: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    result = run_cli(
        "bench", "history", "--postgres", POSTGRES_URL, "--events", "2000", "--rows", "2000",
        "--repeat", "3", "--drain-tasks", "0", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["recorder"]["events"] == 2000
    assert data["recorder"]["events_per_s"] > 0
    assert data["queries_rows"] == 2000
    assert all(case["p95_ms"] > 0 for case in data["queries"].values())
