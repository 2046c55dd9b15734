"""``stalwart bench worker``: the drain rate of ``stalwart worker`` against stock prefork.

Built on the drain harness (:mod:`stalwart.bench.harness`). At each concurrency N,
three workers drain a pre-filled queue of no-op tasks:

- ``celery-prefork``: a plain Celery app with the same hardened settings (it never
  imports Stalwart), ``celery worker -P prefork -c N``: the baseline;
- ``stalwart``: ``stalwart worker -c N``, Stalwart's default process model (N
  supervised ``solo`` processes; the supervisor runs the pump and the recorder);
- ``stalwart-prefork``: ``stalwart worker -P prefork -c N``, Celery's own pool.

Both Stalwart sides run the ``bench overhead`` task (retry policy, dead letters and an
idempotency key on: :mod:`stalwart.bench.overhead_app`). Each round drains every target
once, the order rotating from round to round; per target the best round is kept (a
shared machine's bursts of load do not decide it) and the spread (min-max) is shown.
Ratios are best against best, over ``celery-prefork`` at the same concurrency.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stalwart.app import Stalwart
from stalwart.bench.harness import DrainTarget, Report, measure_drain, plain_celery_app_module
from stalwart.settings import Settings

__all__ = ["BASELINE", "run_worker_bench"]

BASELINE = "celery-prefork"
STALWART_APP = "stalwart.bench.overhead_app:app"


@dataclass(frozen=True)
class _Side:
    """A target and the worker options it runs with (``{n}``: the concurrency)."""

    target: DrainTarget
    pool: str | None  # None: stalwart worker's own process model

    def worker_args(self, concurrency: int) -> list[str]:
        pool = ["--pool", self.pool] if self.pool else []
        return [*pool, "--concurrency", str(concurrency)]


def _sides(plain_app: str, plain_env: dict[str, str]) -> list[_Side]:
    return [
        _Side(DrainTarget(BASELINE, plain_app, "bench.noop", env=plain_env), "prefork"),
        _Side(DrainTarget("stalwart", STALWART_APP, "bench.noop", command="stalwart"), None),
        _Side(
            DrainTarget("stalwart-prefork", STALWART_APP, "bench.noop", command="stalwart"),
            "prefork",
        ),
    ]


def _summary(side: _Side, rates: list[float], baseline_best: float) -> dict[str, Any]:
    best = max(rates)
    return {
        "label": side.target.label,
        "command": side.target.command,
        "pool": side.pool or "supervised solo",
        "best": round(best, 1),
        "min": round(min(rates), 1),
        "max": round(best, 1),
        "rounds": [round(rate, 1) for rate in rates],
        "ratio": round(best / baseline_best, 3) if baseline_best else 0.0,
    }


def run_worker_bench(
    settings: Settings,
    *,
    tasks: int,
    rounds: int,
    concurrencies: Sequence[int],
    report: Report,
) -> dict[str, Any]:
    """Drain rates (tasks/s) of each side at each concurrency; ratios vs ``celery-prefork``."""
    # Starts the embedded server when the settings use it (kept up for the whole run),
    # and creates the tables once, before any worker does.
    setup = Stalwart("bench-setup", settings=settings)
    setup.ensure_stores()
    setup.ensure_schema()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="stalwart-bench-") as tmp:
        sides = _sides(*plain_celery_app_module(Path(tmp), settings))
        for concurrency in concurrencies:
            rates: dict[str, list[float]] = {side.target.label: [] for side in sides}
            for number in range(1, rounds + 1):
                shift = (number - 1) % len(sides)
                for side in sides[shift:] + sides[:shift]:
                    result = measure_drain(
                        side.target,
                        tasks=tasks,
                        settings=settings,
                        worker_args=side.worker_args(concurrency),
                    )
                    rates[side.target.label].append(result.rate)
                    report(f"-c {concurrency} round {number}: {side.target.label} "
                           f"{result.rate:,.0f} tasks/s")  # fmt: skip
            baseline_best = max(rates[BASELINE])
            targets = [_summary(side, rates[side.target.label], baseline_best) for side in sides]
            rows.append({"concurrency": concurrency, "targets": targets})
    setup.release_stores()
    return {
        "tasks": tasks,
        "rounds": rounds,
        "baseline": BASELINE,
        "results": rows,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
