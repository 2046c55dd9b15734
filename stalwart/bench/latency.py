"""``stalwart bench latency``: enqueue-to-start latency on an idle worker.

Two workers, one at a time, each on a queue of its own:

- ``celery``: a plain Celery app with the same hardened settings (it never imports
  Stalwart), ``celery worker -P prefork -c N``;
- ``stalwart``: a normal ``stalwart worker -c N`` (supervised ``solo`` processes, the
  pump and the recorder running), its task with the ``bench overhead`` features on
  (:mod:`stalwart.bench.latency_app`).

Once the worker takes its first message, ``tasks`` messages are sent one at a time
(the Stalwart side through a Stalwart app, so its publish phases count), each carrying
``time.time()`` taken just before its send; the task pushes ``time.time()`` minus that
onto a Redis list as soon as it starts, and the next message is sent when the value has
arrived and a short pause has let the worker settle (so each message finds it idle).
Rounds alternate the order of the two; the samples of all rounds are pooled and p50/p99
reported in milliseconds, with the ratios stalwart / celery (below 1: Stalwart starts
sooner).
"""

from __future__ import annotations

import math
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import redis
from celery import Celery

from stalwart.app import Stalwart
from stalwart.bench.harness import (
    DrainTarget,
    Report,
    broker_client,
    broker_redis_url,
    plain_celery_app_module,
    start_worker,
    stop_worker,
)
from stalwart.settings import Settings

__all__ = ["percentile", "run_latency_bench"]

TASK = "bench.stamp"
WARMUP = 3  # messages sent (and not counted) once the worker runs
PAUSE = 0.01  # seconds between a task's start and the next send: the worker is idle
START_TIMEOUT = 120.0  # for a worker to take its first message
TASK_TIMEOUT = 30.0  # for one message to start


def percentile(samples: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of ``samples`` (``fraction`` 0.99 is p99)."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


class _Sender:
    """Sends ``bench.stamp`` messages to a queue and reads back when each started."""

    def __init__(
        self, settings: Settings, client: redis.Redis, queue: str, *, stalwart: bool
    ) -> None:
        # Each side is sent the way its users send: Stalwart's publish phases (the
        # history's "sent" event...) are inside the measured time.
        self.app: Celery
        if stalwart:
            self.app = Stalwart("bench-producer", settings=settings)
        else:
            self.app = Celery("bench-producer", broker=settings.effective_broker_url)
            self.app.conf.update(task_serializer="json", accept_content=["json"])
        self.client = client
        self.queue = queue
        self.key = f"bench:latency:{queue}"

    def one(self, worker: subprocess.Popen[bytes], timeout: float, log: Path) -> float:
        """Send one message; the seconds from its send to its task's start."""
        self.app.send_task(TASK, args=(self.key, time.time()), queue=self.queue)
        deadline = time.monotonic() + timeout
        while True:
            popped = self.client.blpop([self.key], timeout=1)
            if popped is not None:
                return float(popped[1])
            if worker.poll() is not None:
                raise RuntimeError(f"benchmark worker exited early; see {log}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"no benchmark task started in {timeout:.0f}s; see {log}")

    def close(self) -> None:
        self.client.delete(self.queue, self.key)
        if isinstance(self.app, Stalwart):
            self.app.task_events.flush()  # its "sent" events, while the stores are up
            self.app.release_stores()


def measure_latency(
    target: DrainTarget,
    worker_args: Sequence[str],
    *,
    tasks: int,
    settings: Settings,
) -> list[float]:
    """Start ``target``'s worker, send ``tasks`` messages one at a time; seconds each."""
    queue = f"bench-{uuid.uuid4().hex[:8]}"
    log = Path(tempfile.gettempdir()) / f"{queue}-{target.label}.log"
    stalwart = target.command == "stalwart"
    sender = _Sender(settings, broker_client(settings), queue, stalwart=stalwart)
    worker = start_worker(target, settings, queue, worker_args, log)
    try:
        sender.one(worker, START_TIMEOUT, log)
        for _ in range(WARMUP):
            time.sleep(PAUSE)
            sender.one(worker, TASK_TIMEOUT, log)
        samples = []
        for _ in range(tasks):
            time.sleep(PAUSE)
            samples.append(sender.one(worker, TASK_TIMEOUT, log))
        return samples
    finally:
        stop_worker(worker)
        sender.close()


def _summary(samples: list[float]) -> dict[str, Any]:
    return {
        "p50_ms": round(statistics.median(samples) * 1000, 3),
        "p99_ms": round(percentile(samples, 0.99) * 1000, 3),
        "max_ms": round(max(samples) * 1000, 3),
        "samples": len(samples),
    }


def run_latency_bench(
    settings: Settings,
    *,
    tasks: int,
    rounds: int,
    concurrency: int,
    report: Report,
) -> dict[str, Any]:
    """p50/p99 enqueue-to-start latency of plain Celery and of ``stalwart worker``."""
    # Starts the embedded server when the settings use it (kept up for the whole run),
    # and creates the tables once, before any worker does.
    setup = Stalwart("bench-setup", settings=settings)
    setup.ensure_stores()
    setup.ensure_schema()
    stamp_env = {"BENCH_STAMP_URL": broker_redis_url(settings)}
    samples: dict[str, list[float]] = {"celery": [], "stalwart": []}
    with tempfile.TemporaryDirectory(prefix="stalwart-bench-") as tmp:
        plain_app, plain_env = plain_celery_app_module(Path(tmp), settings)
        sides = [
            (
                DrainTarget("celery", plain_app, TASK, env={**plain_env, **stamp_env}),
                ["--pool", "prefork", "--concurrency", str(concurrency)],
            ),
            (
                DrainTarget(
                    "stalwart",
                    "stalwart.bench.latency_app:app",
                    TASK,
                    env=stamp_env,
                    command="stalwart",
                ),
                ["--concurrency", str(concurrency)],
            ),
        ]
        for number in range(1, rounds + 1):
            for target, worker_args in sides if number % 2 else sides[::-1]:
                got = measure_latency(target, worker_args, tasks=tasks, settings=settings)
                samples[target.label] += got
                report(f"round {number}: {target.label} p50 "
                       f"{statistics.median(got) * 1000:.2f} ms, "
                       f"p99 {percentile(got, 0.99) * 1000:.2f} ms")  # fmt: skip
    setup.release_stores()
    celery, stalwart = _summary(samples["celery"]), _summary(samples["stalwart"])
    return {
        "tasks": tasks,
        "rounds": rounds,
        "concurrency": concurrency,
        "celery": celery,
        "stalwart": stalwart,
        "p50_ratio": round(stalwart["p50_ms"] / celery["p50_ms"], 3) if celery["p50_ms"] else 0.0,
        "p99_ratio": round(stalwart["p99_ms"] / celery["p99_ms"], 3) if celery["p99_ms"] else 0.0,
    }
