"""``stalwart bench console`` in miniature (tiny numbers, no timed assertion)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable

import pytest

from tests.support.services import POSTGRES_URL


@pytest.mark.usefixtures("postgres_url")  # skips (or fails in CI) without PostgreSQL
def test_tiny_console_bench_runs(run_cli: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    result = run_cli("bench", "console", "--rows", "300", "--repeat", "2", "--rounds", "1",
                     "--postgres", POSTGRES_URL, "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads(result.stdout)
    assert data["rows"] == 300
    for backend in ("sqlite", "postgresql"):
        cases = data[backend]
        assert {"/ (overview page)", "/api/tasks", "/tasks/{id} (page)", "/metrics (uncached)",
                "/dlq (page)", "/schedules (page)", "/limits (page)"} <= set(cases)  # fmt: skip
        assert all(len(c["p95_ms"]) == 1 and c["p95_ms"][0] > 0 for c in cases.values())
