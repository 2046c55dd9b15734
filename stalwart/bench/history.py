"""``stalwart bench history``: recorder throughput, query latency at 1M rows, drain cost.

Three measurements, each against real components in private stores (the embedded
Valkey server in a temporary data directory, a PostgreSQL database created for the
run and dropped after it):

1. **Recorder throughput**: events already in the stream, recorded into PostgreSQL by
   one recorder; events per second.
2. **Queries at scale**: ``rows`` task rows (2 events each) seeded with COPY, then the
   query module's listings (each filter, a deep keyset page) and ``tasks show``
   (task, timeline and canvas tree); p50/p95 in milliseconds.
3. **Drain rate, recording on vs off**: real ``stalwart worker`` processes drain a
   pre-filled queue of no-op tasks, alternating on and off rounds in the same run;
   the ratio of the medians.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from stalwart.app import Stalwart
from stalwart.db.migrate import upgrade
from stalwart.events import EVENT_STREAM, EventKind, TaskEvent, encode_batch
from stalwart.events.buffer import flush_all
from stalwart.history.query import TaskFilter, get_task, list_tasks, task_tree
from stalwart.history.recorder import Recorder
from stalwart.settings import Settings
from stalwart.worker.heartbeat import list_workers

__all__ = ["run_history_bench"]

TASK = "stalwart.bench.history_app.noop"
Report = Callable[[str], None]


@contextlib.contextmanager
def bench_database(server_url: str) -> Iterator[str]:
    """A PostgreSQL database of this run's own (dropped afterwards)."""
    name = f"stalwart_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as db:
        db.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as db:
            db.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _events(task_id: str, now: float) -> list[TaskEvent]:
    common = {"queue": "celery", "args": "[1,2]", "kwargs": "{}", "root_id": task_id}
    worker = {"worker": "bench@host"}
    return [
        TaskEvent(EventKind.SENT, task_id, TASK, now, {**common, "retries": 0}),
        TaskEvent(EventKind.RECEIVED, task_id, TASK, now + 0.001, {**common, **worker}),
        TaskEvent(EventKind.STARTED, task_id, TASK, now + 0.002, {**worker, "retries": 0}),
        TaskEvent(EventKind.SUCCEEDED, task_id, TASK, now + 0.003, {**worker, "result": "3"}),
    ]


ENTRY_EVENTS = 40  # events per stream entry: ~a busy worker's 100 ms flush


def recorder_throughput(app: Stalwart, events: int) -> dict[str, Any]:
    """Fill the stream with ``events`` events, then time one recorder draining it."""
    client, now = app.redis, time.time()
    pipe = client.pipeline(transaction=False)
    batch: list[tuple[str, TaskEvent]] = []
    for i in range(events // 4):
        batch += [(uuid.uuid4().hex, e) for e in _events(uuid.uuid4().hex, now + i * 0.004)]
        if len(batch) >= ENTRY_EVENTS:  # as a worker's buffer sends them: many per entry
            pipe.xadd(EVENT_STREAM, encode_batch(batch))  # type: ignore[arg-type]
            batch = []
        if i % 500 == 499:
            pipe.execute()
    if batch:
        pipe.xadd(EVENT_STREAM, encode_batch(batch))  # type: ignore[arg-type]
    pipe.execute()
    recorder = Recorder(app.redis, app.engine, batch=1000)
    start = time.perf_counter()
    recorded = recorder.drain(timeout=3600)
    seconds = time.perf_counter() - start
    return {
        "events": recorded,
        "seconds": round(seconds, 2),
        "events_per_s": round(recorded / seconds),
    }


def seed(engine: Engine, rows: int, report: Report) -> None:
    """``rows`` tasks over the last 10 days (2 events each), with PostgreSQL COPY."""
    states = ["succeeded"] * 90 + ["failed"] * 6 + ["started", "retried", "dead_lettered", "sent"]
    names = [f"crm.tasks.job_{i}" for i in range(20)]
    queues = ["celery", "sms", "email", "imports"]
    rng, now = random.Random(7), datetime.now(UTC)
    raw = engine.raw_connection()
    try:
        cursor: Any = raw.cursor()
        for start in range(0, rows, 100_000):
            tasks, events = io.StringIO(), io.StringIO()
            for i in range(start, min(rows, start + 100_000)):
                task_id = f"{i:08d}-{uuid.UUID(int=rng.getrandbits(128)).hex[:20]}"
                at = now - timedelta(seconds=rng.uniform(0, 10 * 86_400))
                state, name, queue = rng.choice(states), rng.choice(names), rng.choice(queues)
                root = task_id if i % 10 else f"{i - i % 10:08d}"
                tasks.write(
                    f"{task_id}\t{name}\t{queue}\t{state}\t{at.isoformat()}\t4\t{{}}\tw{i % 8}\t"
                    f"{at.isoformat()}\t{root}\t[{i}]\t{{}}\t{at.isoformat()}\t{at.isoformat()}\n"
                )
                events.write(f"{task_id}\t{i}-a\tsent\t{at.isoformat()}\t{{}}\n")
                events.write(f"{task_id}\t{i}-b\t{state}\t{at.isoformat()}\t{{}}\n")
            columns = (
                "task_id,name,queue,state,state_at,state_rank,detail,worker,worker_at,"
                "root_id,args,kwargs,first_at,updated_at"
            )
            with cursor.copy(f"COPY history_tasks ({columns}) FROM STDIN") as copy:
                copy.write(tasks.getvalue())
            with cursor.copy("COPY history_events (task_id,seq,kind,at,fields) FROM STDIN") as copy:
                copy.write(events.getvalue())
            raw.commit()
            report(f"  seeded {min(rows, start + 100_000):,} rows")
        cursor.execute("ANALYZE history_tasks")
        cursor.execute("ANALYZE history_events")
        raw.commit()
    finally:
        raw.close()


def _timed(run: Callable[[], Any], repeat: int) -> dict[str, float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return {
        "p50_ms": round(statistics.median(times), 2),
        "p95_ms": round(times[int(0.95 * (len(times) - 1))], 2),
    }


def query_latency(engine: Engine, rows: int, repeat: int, report: Report) -> dict[str, Any]:
    seed(engine, rows, report)
    with engine.connect() as db:
        sample = "SELECT task_id FROM history_tasks TABLESAMPLE SYSTEM (1) LIMIT 2000"
        ids = list(db.execute(sa.text(sample)).scalars())
        if len(ids) < 100:  # a small table: pages are too few to sample
            ids = list(
                db.execute(sa.text("SELECT task_id FROM history_tasks LIMIT 2000")).scalars()
            )
    rng = random.Random(3)

    def page_five() -> None:
        cursor = None
        for _ in range(5):
            cursor = list_tasks(engine, TaskFilter(state="succeeded"), 50, cursor).next_cursor

    def show() -> None:
        task_id = rng.choice(ids)
        get_task(engine, task_id)
        task_tree(engine, task_id)

    cases: dict[str, Callable[[], Any]] = {
        "ls": lambda: list_tasks(engine, None, 50),
        "ls --state failed": lambda: list_tasks(engine, TaskFilter(state="failed"), 50),
        "ls --state dead": lambda: list_tasks(engine, TaskFilter(state="dead"), 50),
        "ls --name": lambda: list_tasks(engine, TaskFilter(name="crm.tasks.job_7"), 50),
        "ls --name prefix*": lambda: list_tasks(engine, TaskFilter(name="crm.tasks.job_1*"), 50),
        "ls --queue": lambda: list_tasks(engine, TaskFilter(queue="sms"), 50),
        "ls --since 1h": lambda: list_tasks(
            engine, TaskFilter(since=datetime.now(UTC) - timedelta(hours=1)), 50
        ),
        "ls --state failed --queue sms --since 1d": lambda: list_tasks(
            engine,
            TaskFilter(state="failed", queue="sms", since=datetime.now(UTC) - timedelta(days=1)),
            50,
        ),
        "ls --worker": lambda: list_tasks(engine, TaskFilter(worker="w3"), 50),
        "ls 5 keyset pages": page_five,
        "show (task, timeline, tree)": show,
    }
    return {name: _timed(run, repeat) for name, run in cases.items()}


def _worker(settings_env: dict[str, str], recording: bool, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STALWART_")}
    env.update(settings_env, BENCH_HISTORY_RECORDING="1" if recording else "0")
    hostname = f"bench-{uuid.uuid4().hex[:6]}@host"
    return subprocess.Popen(
        [sys.executable, "-m", "stalwart.cli", "worker", "-A", "stalwart.bench.history_app:app",
         "-c", "2", "--pool", "prefork", "-n", hostname, "-l", "WARNING"],
        env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip


def drain_round(
    app: Stalwart, env: dict[str, str], recording: bool, tasks: int, log: Path
) -> float:
    """Tasks per second one worker (prefork -c2) drains from a pre-filled queue."""
    app.record_history = recording
    client = app.redis
    for _ in range(tasks):
        app.send_task(TASK)
    flush_all()
    proc = _worker(env, recording, log)
    try:
        start = None
        while True:
            depth = int(client.llen("celery"))
            if start is None and depth < tasks:
                start = time.perf_counter()
            if depth == 0 and int(client.hlen("unacked")) == 0:
                end = time.perf_counter()
                break
            if proc.poll() is not None:
                raise RuntimeError(f"bench worker exited: see {log}")
            time.sleep(0.01)
        return tasks / (end - (start or end))
    finally:
        proc.terminate()
        proc.wait(60)
        with contextlib.suppress(Exception):
            for info in list_workers(client, include_dead=True):
                client.zrem("stalwart:workers", info.hostname)


def drain_comparison(
    app: Stalwart, env: dict[str, str], tasks: int, rounds: int, log: Path
) -> dict[str, Any]:
    on: list[float] = []
    off: list[float] = []
    for round_ in range(rounds):
        order = (True, False) if round_ % 2 == 0 else (False, True)
        for recording in order:
            rate = drain_round(app, env, recording, tasks, log)
            (on if recording else off).append(round(rate, 1))
    return {
        "tasks_per_round": tasks,
        "on": on,
        "off": off,
        "on_median": statistics.median(on),
        "off_median": statistics.median(off),
        "ratio": round(statistics.median(on) / statistics.median(off), 3),
    }


def run_history_bench(
    postgres_url: str,
    *,
    events: int,
    rows: int,
    repeat: int,
    drain_tasks: int,
    rounds: int,
    report: Report,
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with (
        tempfile.TemporaryDirectory(prefix="stalwart-bench-") as tmp,
        bench_database(postgres_url) as database_url,
    ):
        settings = Settings(data_dir=Path(tmp), database_url=database_url)
        env = {"STALWART_DATA_DIR": tmp, "STALWART_DATABASE_URL": database_url}
        app = Stalwart("bench-history-driver", settings=settings)
        upgrade(app.engine)
        report(f"recorder throughput: {events:,} events into PostgreSQL")
        results["recorder"] = recorder_throughput(app, events)
        report(json.dumps(results["recorder"]))
        if drain_tasks:
            report(f"drain rate: {rounds} rounds x (on, off) of {drain_tasks:,} no-op tasks")
            results["drain"] = drain_comparison(
                app, env, drain_tasks, rounds, Path(tmp) / "workers.log"
            )
            report(json.dumps(results["drain"]))
        with app.engine.begin() as db:
            db.execute(sa.text("TRUNCATE history_tasks, history_events"))
        report(f"queries: seeding {rows:,} task rows")
        results["queries"] = query_latency(app.engine, rows, repeat, report)
        results["queries_rows"] = rows
        app.engine.dispose()
    return results
