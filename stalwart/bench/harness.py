"""A reusable drain-rate harness: how fast real workers empty a queue of N tasks.

Usage (what ``stalwart bench overhead`` does)::

    baseline = DrainTarget("celery", plain_celery_app_module(tmp), "bench.noop")
    candidate = DrainTarget("stalwart", "stalwart.bench.overhead_app:app", "bench.noop")
    comparison = compare(baseline, candidate, tasks=20_000, settings=settings)
    print(comparison.ratio)

Each measurement fills a fresh queue with ``tasks`` messages first, then starts a real
``celery -A <app> worker`` subprocess on it (or ``stalwart worker -A <app>``, for a
target whose ``command`` is ``"stalwart"``) and times from the first message taken to
the queue and the unacknowledged set being empty (every task acknowledged; with
``acks_late`` that is after it ran). Worker start-up and publishing are not timed.
The two targets alternate over ``rounds`` and the best round of each is kept, so a
burst of outside load on a shared machine does not decide the comparison.

The baseline is a plain ``celery.Celery`` app with the same hardened settings, written
to a temporary module that never imports Stalwart (:func:`plain_celery_app_module`).
Use a broker database of the benchmark's own: the unacknowledged set is per database.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import redis
from celery import Celery

from stalwart.defaults import hardened_config
from stalwart.procgroup import group_alive
from stalwart.settings import Settings

__all__ = [
    "Comparison",
    "DrainResult",
    "DrainTarget",
    "broker_client",
    "broker_redis_url",
    "compare",
    "measure_drain",
    "plain_celery_app_module",
    "settings_env",
    "start_worker",
    "stop_worker",
]

Report = Callable[[str], None]
_PLAIN_APP = '''"""Plain Celery with Stalwart's hardened settings (stalwart.bench.harness)."""
import json
import os

from celery import Celery

app = Celery("bench-plain")
app.conf.update(json.loads(os.environ["STALWART_BENCH_CONF"]))


@app.task(name="bench.noop")
def noop(run, i):
    return None


_client = None


@app.task(name="bench.stamp")
def stamp(key, sent):
    """Push how long ago the message was sent (stalwart bench latency)."""
    import time

    started = time.time() - sent
    global _client
    if _client is None:
        import redis

        _client = redis.Redis.from_url(os.environ["BENCH_STAMP_URL"])
    _client.rpush(key, repr(started))
'''


@dataclass(frozen=True)
class DrainTarget:
    """What to drain: workers of ``app`` running task ``task`` with ``args(run, i)``.

    ``command`` is the worker started: ``"celery"`` (``celery -A app worker``) or
    ``"stalwart"`` (``stalwart worker -A app``: the supervised process model unless the
    worker arguments name a pool)."""

    label: str
    app: str
    task: str
    args: Callable[[str, int], Sequence[Any]] = lambda run, i: (run, i)
    env: dict[str, str] = field(default_factory=dict)
    command: Literal["celery", "stalwart"] = "celery"


@dataclass(frozen=True)
class DrainResult:
    label: str
    tasks: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.tasks / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rate": round(self.rate, 1)}


@dataclass(frozen=True)
class Comparison:
    baseline: DrainResult
    candidate: DrainResult
    rounds: list[dict[str, float]]

    @property
    def ratio(self) -> float:
        return self.candidate.rate / self.baseline.rate if self.baseline.rate else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "baseline": self.baseline.as_dict(),
            "candidate": self.candidate.as_dict(),
            "ratio": round(self.ratio, 3),
            "rounds": self.rounds,
        }


def settings_env(settings: Settings) -> dict[str, str]:
    """STALWART_* variables that reproduce ``settings`` in a worker subprocess."""
    env: dict[str, str] = {}
    for name, value in settings.model_dump().items():
        if value is None or name in ("console_token", "console_users"):
            continue
        shown = ",".join(value) if name == "redact" else str(value)
        env[f"STALWART_{name.upper()}"] = shown
    return env


def plain_celery_app_module(directory: Path, settings: Settings) -> tuple[str, dict[str, str]]:
    """Write the plain-Celery baseline app; returns its ``-A`` target and environment."""
    (directory / "bench_plain_app.py").write_text(_PLAIN_APP)
    conf = {**hardened_config(settings), "broker_url": settings.effective_broker_url}
    env = {"STALWART_BENCH_CONF": json.dumps(conf), "PYTHONPATH": str(directory)}
    return "bench_plain_app:app", env


def broker_redis_url(settings: Settings) -> str:
    """The broker's URL as redis-py reads it (benchmarks need a Redis broker)."""
    if not settings.broker_is_redis:
        raise ValueError("the benchmark harness needs a Redis broker (it reads queue lengths)")
    url = settings.effective_broker_url
    if url.startswith("redis+socket://"):
        url = "unix://" + url[len("redis+socket://") :]
    return url


def broker_client(settings: Settings) -> redis.Redis:
    """A redis-py client on the broker."""
    return redis.Redis.from_url(broker_redis_url(settings))


def _publish(settings: Settings, target: DrainTarget, queue: str, run: str, tasks: int) -> None:
    producer_app = Celery("bench-producer", broker=settings.effective_broker_url)
    producer_app.conf.update(task_serializer="json", accept_content=["json"])
    with producer_app.producer_or_acquire() as producer:
        for i in range(tasks):
            producer_app.send_task(
                target.task, args=tuple(target.args(run, i)), queue=queue, producer=producer
            )


def measure_drain(
    target: DrainTarget,
    *,
    tasks: int,
    settings: Settings,
    worker_args: Sequence[str] = ("--pool", "prefork", "--concurrency", "2"),
    timeout: float = 900.0,
    log_dir: Path | None = None,
) -> DrainResult:
    """Fill a fresh queue with ``tasks`` messages, start a worker, time the drain."""
    client = broker_client(settings)
    queue = f"bench-{uuid.uuid4().hex[:8]}"
    run = uuid.uuid4().hex[:8]
    _publish(settings, target, queue, run, tasks)
    log_path = (log_dir or Path(tempfile.gettempdir())) / f"{queue}-{target.label}.log"
    worker = start_worker(target, settings, queue, worker_args, log_path)
    try:
        deadline = time.monotonic() + timeout
        while client.llen(queue) >= tasks:
            _check(worker, deadline, log_path)
            time.sleep(0.005)
        start = time.monotonic()
        while client.llen(queue) or client.hlen("unacked"):
            _check(worker, deadline, log_path)
            time.sleep(0.005)
        seconds = time.monotonic() - start
    finally:
        stop_worker(worker)
        client.delete(queue)
    return DrainResult(target.label, tasks, seconds)


def _check(worker: subprocess.Popen[bytes], deadline: float, log_path: Path) -> None:
    if worker.poll() is not None:
        raise RuntimeError(f"benchmark worker exited early; see {log_path}")
    if time.monotonic() > deadline:
        raise TimeoutError(f"benchmark drain timed out; see {log_path}")


def start_worker(
    target: DrainTarget,
    settings: Settings,
    queue: str,
    worker_args: Sequence[str],
    log_path: Path,
) -> subprocess.Popen[bytes]:
    """Start ``target``'s worker on ``queue`` in a session of its own (see :func:`stop_worker`)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STALWART_")}
    env.update(settings_env(settings))
    env.update(target.env)
    if "PYTHONPATH" in target.env:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [target.env["PYTHONPATH"], os.getcwd()]))
    if target.command == "stalwart":
        argv = [sys.executable, "-m", "stalwart.cli", "worker", "-A", target.app, "-Q", queue]
    else:
        argv = [sys.executable, "-m", "celery", "-A", target.app, "worker", "-Q", queue]
    argv += ["--without-gossip", "--without-mingle", "-l", "WARNING", *worker_args]
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )


def stop_worker(worker: subprocess.Popen[bytes]) -> None:
    """SIGTERM the worker's whole process group and wait until none of it is left
    (SIGKILL for what still runs after 30 s)."""
    if worker.poll() is None:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
    deadline = time.monotonic() + 30
    while group_alive(worker.pid):  # a pool child may outlive its parent by a moment
        if time.monotonic() > deadline:
            os.killpg(worker.pid, signal.SIGKILL)
            break
        time.sleep(0.05)


def compare(
    baseline: DrainTarget,
    candidate: DrainTarget,
    *,
    tasks: int,
    settings: Settings,
    rounds: int = 1,
    worker_args: Sequence[str] = ("--pool", "prefork", "--concurrency", "2"),
    report: Report | None = None,
) -> Comparison:
    """Drain both targets ``rounds`` times, alternating; keep the best round of each."""
    best: dict[str, DrainResult] = {}
    history: list[dict[str, float]] = []
    for number in range(1, rounds + 1):
        row: dict[str, float] = {}
        for target in (baseline, candidate):
            result = measure_drain(target, tasks=tasks, settings=settings, worker_args=worker_args)
            row[target.label] = round(result.rate, 1)
            if report is not None:
                report(f"round {number}: {target.label} {result.rate:,.0f} tasks/s")
            if target.label not in best or result.rate > best[target.label].rate:
                best[target.label] = result
        history.append(row)
    return Comparison(best[baseline.label], best[candidate.label], history)
