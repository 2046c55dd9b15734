"""The short CI runs of ``stalwart bench enqueue`` and ``stalwart bench flow`` (measurements,
not timing assertions): each side runs and the ratios are the ratios of what was printed."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable

Cli = Callable[..., subprocess.CompletedProcess[str]]


def test_bench_enqueue_publishes_on_every_side_and_reports_ratios(run_cli: Cli) -> None:
    done = run_cli("bench", "enqueue", "--tasks", "50", "--rounds", "1", "--json", timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["tasks_per_round"] == 50
    rates = [report[side] for side in ("celery_delay", "stalwart_delay", "bulk")]
    assert all(rate > 0 for rate in rates), report
    assert abs(report["bulk_vs_delay"] - report["bulk"] / report["stalwart_delay"]) < 0.01


def test_bench_flow_drains_both_tasks_and_counts_redis_commands(run_cli: Cli) -> None:
    done = run_cli("bench", "flow", "--tasks", "100", "--rounds", "1", "--json", timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["tasks_per_round"] == 100
    assert report["plain"] > 0 and report["checked"] > 0
    assert abs(report["ratio"] - report["checked"] / report["plain"]) < 0.01
    # The checked task runs its limits' script: more commands per task than without.
    assert report["commands_per_task_checked"] > report["commands_per_task_plain"] > 0
