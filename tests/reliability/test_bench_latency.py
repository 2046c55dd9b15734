"""``stalwart bench latency`` in miniature (CI runs each bench small; a measurement, not
a timing assertion): the report's shape, positive percentiles and ratios, and nothing
the bench started left running or queued."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Callable

import redis

from tests.support.processes import processes_with_env

Cli = Callable[..., subprocess.CompletedProcess[str]]


def test_bench_latency_reports_percentiles_of_both_sides(
    run_cli: Cli, redis_client: redis.Redis
) -> None:
    value = uuid.uuid4().hex  # every process the bench starts inherits it
    done = run_cli("bench", "latency", "--tasks", "5", "--json", env={"BENCH_TEST_RUN": value})
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert (report["tasks"], report["rounds"], report["concurrency"]) == (5, 1, 2)
    for label in ("celery", "stalwart"):
        side = report[label]
        assert side["samples"] == 5
        assert 0 < side["p50_ms"] <= side["p99_ms"] <= side["max_ms"]
    for name in ("p50", "p99"):
        expected = report["stalwart"][f"{name}_ms"] / report["celery"][f"{name}_ms"]
        assert report[f"{name}_ratio"] > 0 and abs(report[f"{name}_ratio"] - expected) < 0.01
    assert processes_with_env(f"BENCH_TEST_RUN={value}") == []
    assert redis_client.keys("bench-*") == [] and redis_client.keys("bench:latency:*") == []
    assert redis_client.hlen("unacked") == 0
