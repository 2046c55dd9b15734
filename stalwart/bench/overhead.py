"""``stalwart bench overhead``: Stalwart's per-task cost against plain Celery.

Drains N no-op tasks through a plain ``celery.Celery`` app with the same hardened
settings, then through a Stalwart task with a retry policy, dead letters and an
idempotency key on, and reports both rates and their ratio (target: >= 0.90).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from stalwart.app import Stalwart
from stalwart.bench.harness import DrainTarget, Report, compare, plain_celery_app_module
from stalwart.settings import Settings

__all__ = ["run_overhead_bench"]


def run_overhead_bench(
    settings: Settings,
    *,
    tasks: int,
    rounds: int,
    concurrency: int = 2,
    report: Report | None = None,
) -> dict[str, Any]:
    """Run the comparison; returns a JSON-ready summary."""
    Stalwart("bench-setup", settings=settings).ensure_schema()  # dead-letter table present
    with tempfile.TemporaryDirectory(prefix="stalwart-bench-") as tmp:
        plain_app, plain_env = plain_celery_app_module(Path(tmp), settings)
        baseline = DrainTarget("celery", plain_app, "bench.noop", env=plain_env)
        candidate = DrainTarget("stalwart", "stalwart.bench.overhead_app:app", "bench.noop")
        comparison = compare(
            baseline,
            candidate,
            tasks=tasks,
            settings=settings,
            rounds=rounds,
            worker_args=("--pool", "prefork", "--concurrency", str(concurrency)),
            report=report,
        )
    return {"tasks": tasks, "concurrency": concurrency, **comparison.as_dict()}
