"""The short CI run of ``stalwart bench overhead`` (a measurement, not a timing assertion)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable

Cli = Callable[..., subprocess.CompletedProcess[str]]


def test_bench_overhead_runs_both_sides_and_reports_the_ratio(run_cli: Cli) -> None:
    done = run_cli("bench", "overhead", "--tasks", "200", "--json", timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["tasks"] == 200
    assert report["baseline"]["label"] == "celery" and report["candidate"]["label"] == "stalwart"
    assert report["baseline"]["rate"] > 0 and report["candidate"]["rate"] > 0
    expected = report["candidate"]["rate"] / report["baseline"]["rate"]
    assert abs(report["ratio"] - expected) < 0.01
