"""``stalwart bench worker`` in miniature (CI runs each bench small; a measurement, not a
timing assertion): the report's shape, positive rates and ratios, and nothing the bench
started left running or queued."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Callable

import redis

from tests.support.processes import processes_with_env

Cli = Callable[..., subprocess.CompletedProcess[str]]


def _run_marked(run_cli: Cli, *args: str) -> tuple[subprocess.CompletedProcess[str], str]:
    """Run a bench with a variable of its own that every process it starts inherits."""
    value = uuid.uuid4().hex
    return run_cli(*args, env={"BENCH_TEST_RUN": value}, timeout=180), f"BENCH_TEST_RUN={value}"


def test_bench_worker_compares_both_stalwart_models_with_stock_prefork(
    run_cli: Cli, redis_client: redis.Redis
) -> None:
    done, mark = _run_marked(
        run_cli, "bench", "worker", "-c", "1", "--tasks", "20", "--rounds", "1", "--json"
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert (report["tasks"], report["rounds"], report["baseline"]) == (20, 1, "celery-prefork")
    [row] = report["results"]
    assert row["concurrency"] == 1
    sides = {side["label"]: side for side in row["targets"]}
    assert list(sides) == ["celery-prefork", "stalwart", "stalwart-prefork"]
    assert [sides[label]["command"] for label in sides] == ["celery", "stalwart", "stalwart"]
    baseline = sides["celery-prefork"]["best"]
    for side in sides.values():
        assert 0 < side["min"] <= side["best"] == side["max"]
        assert len(side["rounds"]) == 1
        assert side["ratio"] > 0 and abs(side["ratio"] - side["best"] / baseline) < 0.01
    assert sides["celery-prefork"]["ratio"] == 1.0
    assert len(report["load_average"]) == 3
    assert processes_with_env(mark) == []
    assert redis_client.keys("bench-*") == [] and redis_client.hlen("unacked") == 0


def test_bench_worker_refuses_a_bad_concurrency_list_in_one_line(run_cli: Cli) -> None:
    done = run_cli("bench", "worker", "--concurrency", "1,two")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "'1,two' is not a list of worker counts" in done.stderr
