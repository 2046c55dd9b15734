"""``stalwart bench enqueue``: publishing rate of ``delay_many`` vs ``.delay``.

In one process, against one broker, rounds alternate between:

- ``celery``: ``.delay`` of a plain ``celery.Celery`` app with Stalwart's hardened
  settings (its own Redis result backend, as the plain baseline elsewhere);
- ``stalwart``: ``.delay`` of a Stalwart task (the publish phases included);
- ``bulk``: the same task's ``delay_many``, ``batch`` messages per round trip.

Each round publishes ``tasks`` messages per side and empties the queue afterwards;
the best round of each side is kept, and the ratios are printed. No worker runs.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from celery import Celery

from stalwart.app import Stalwart
from stalwart.bench.harness import Report
from stalwart.defaults import hardened_config
from stalwart.settings import Settings

__all__ = ["run_enqueue_bench"]

QUEUE = "bench-enqueue"


def _timed(publish: Callable[[], None], tasks: int) -> float:
    start = time.perf_counter()
    publish()
    return tasks / (time.perf_counter() - start)


def run_enqueue_bench(
    tasks: int, rounds: int, batch: int, report: Report, settings: Settings | None = None
) -> dict[str, Any]:
    """Best publishing rate (messages/s) of each side over alternating rounds, and ratios."""
    with tempfile.TemporaryDirectory(prefix="stalwart-bench-") as tmp:
        settings = settings or Settings(data_dir=Path(tmp))
        app = Stalwart("bench-enqueue", settings=settings)
        app.ensure_schema()  # starts the embedded server when the settings use it
        plain = Celery("bench-plain", broker=settings.effective_broker_url)
        plain.conf.update(hardened_config(settings))

        @plain.task(name="bench.enqueue.noop", shared=False)  # type: ignore[untyped-decorator]
        def plain_noop(n: int) -> None: ...

        @app.task(name="bench.enqueue.noop", shared=False)
        def noop(n: int) -> None: ...

        def empty() -> None:
            app.redis.delete(QUEUE)

        def celery_delay() -> None:
            for n in range(tasks):
                plain_noop.apply_async((n,), queue=QUEUE)

        def stalwart_delay() -> None:
            for n in range(tasks):
                noop.apply_async((n,), queue=QUEUE)

        def bulk() -> None:
            calls = [(n,) for n in range(tasks)]
            noop.delay_many(calls, queue=QUEUE, batch_size=batch).raise_for_errors()

        sides: dict[str, Callable[[], None]] = {
            "celery": celery_delay,
            "stalwart": stalwart_delay,
            "bulk": bulk,
        }
        best: dict[str, float] = {}
        history: list[dict[str, float]] = []
        for number in range(1, rounds + 1):
            row: dict[str, float] = {}
            order = list(sides) if number % 2 else list(reversed(sides))
            for label in order:
                empty()
                rate = _timed(sides[label], tasks)
                row[label] = round(rate, 1)
                best[label] = max(best.get(label, 0.0), rate)
                report(f"round {number}: {label} {rate:,.0f} messages/s")
            history.append(row)
        empty()
        app.release_stores()
    return {
        "tasks_per_round": tasks,
        "batch": batch,
        "celery_delay": round(best["celery"], 1),
        "stalwart_delay": round(best["stalwart"], 1),
        "bulk": round(best["bulk"], 1),
        "bulk_vs_delay": round(best["bulk"] / best["stalwart"], 2),
        "bulk_vs_celery_delay": round(best["bulk"] / best["celery"], 2),
        "delay_vs_celery_delay": round(best["stalwart"] / best["celery"], 3),
        "rounds": history,
    }
