"""``stalwart bench console``: p50/p95 of every console page and API listing at scale.

For each durable store (SQLite, and PostgreSQL when a server URL is given) the bench
seeds ``rows`` history rows over ten days (two events each, as ``stalwart bench
history`` does), plus dead letters, schedules and audit rows, then serves the console
over real HTTP (uvicorn on a thread, the embedded Valkey server of a temporary data
directory) and times ``repeat`` requests of each page and API listing: task pages
and detail pages on random tasks, deep keyset pages, and ``/metrics`` read uncached
every time (its worst case). Background services are off: only the pages are timed.
"""

from __future__ import annotations

import contextlib
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from pydantic import SecretStr
from sqlalchemy.engine import Engine

from stalwart.app import Stalwart
from stalwart.audit import audit_log
from stalwart.bench.history import bench_database
from stalwart.bench.history import seed as seed_postgres
from stalwart.db.migrate import upgrade
from stalwart.deadletter.tables import dead_letters
from stalwart.history.tables import history_events, history_tasks
from stalwart.scheduler.model import ScheduleKind, ScheduleSpec
from stalwart.scheduler.store import add_schedule
from stalwart.settings import Settings

__all__ = ["run_console_bench"]

Report = Callable[[str], None]
TOKEN = "bench-console-token"
NAMES = [f"crm.tasks.job_{i}" for i in range(20)]
STATES = ["succeeded"] * 90 + ["failed"] * 6 + ["started", "retried", "dead_lettered", "sent"]
CHUNK = 20_000


def seed_sqlite(engine: Engine, rows: int, report: Report) -> None:
    """The same rows as the PostgreSQL seed, with executemany (SQLite has no COPY)."""
    rng, now = random.Random(7), datetime.now(UTC)
    queues = ["celery", "sms", "email", "imports"]
    for start in range(0, rows, CHUNK):
        tasks, events = [], []
        for i in range(start, min(rows, start + CHUNK)):
            task_id = f"{i:08d}-{uuid.UUID(int=rng.getrandbits(128)).hex[:20]}"
            at = now - timedelta(seconds=rng.uniform(0, 10 * 86_400))
            state = rng.choice(STATES)
            tasks.append({
                "task_id": task_id, "name": rng.choice(NAMES), "queue": rng.choice(queues),
                "state": state, "state_at": at, "state_rank": 4, "detail": {},
                "worker": f"w{i % 8}", "worker_at": at,
                "root_id": task_id if i % 10 else f"{i - i % 10:08d}", "args": f"[{i}]",
                "kwargs": "{}", "first_at": at, "updated_at": at,
            })  # fmt: skip
            events.append({"task_id": task_id, "seq": f"{i}-a", "kind": "sent", "at": at,
                           "fields": {}})  # fmt: skip
            events.append({"task_id": task_id, "seq": f"{i}-b", "kind": state, "at": at,
                           "fields": {}})  # fmt: skip
        with engine.begin() as db:
            db.execute(history_tasks.insert(), tasks)
            db.execute(history_events.insert(), events)
        if (start + CHUNK) % 100_000 == 0 or start + CHUNK >= rows:
            report(f"  seeded {min(rows, start + CHUNK):,} rows")
    with engine.begin() as db:
        db.execute(sa.text("ANALYZE"))


def seed_operations(app: Stalwart, letters: int, audits: int) -> None:
    """Dead letters, schedules and audit rows, so those pages have something to show."""
    now = datetime.now(UTC)
    rows = [
        {"task_id": uuid.uuid4().hex, "name": NAMES[i % len(NAMES)], "queue": "celery",
         "args": [i], "kwargs": {"password": "x"}, "options": {}, "reason": "exhausted",
         "exc_type": "ConnectionError", "exc_message": "provider down",
         "traceback": "Traceback (most recent call last):\n  ...\nConnectionError\n",
         "attempts": 3, "first_failed_at": now - timedelta(minutes=i), "last_failed_at":
         now - timedelta(minutes=i), "replay_count": 0}
        for i in range(letters)
    ]  # fmt: skip
    audit = [
        {"at": now - timedelta(seconds=i), "actor": "console:bench", "action": "dlq.replay",
         "target": str(i), "count": 1, "details": {}}
        for i in range(audits)
    ]  # fmt: skip
    with app.engine.begin() as db:
        db.execute(dead_letters.insert(), rows)
        db.execute(audit_log.insert(), audit)
    for i in range(20):
        spec = ScheduleSpec(name=f"sync-{i}", task=NAMES[i], kind=ScheduleKind.CRON,
                            cron=f"{i} * * * *", timezone="Europe/Berlin")  # fmt: skip
        add_schedule(app.engine, spec, actor="bench")


def _timed(call: Callable[[], httpx.Response], repeat: int) -> dict[str, float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        reply = call()
        times.append((time.perf_counter() - start) * 1000)
        if reply.status_code != 200:
            raise RuntimeError(f"{reply.request.url} answered {reply.status_code}: {reply.text}")
    times.sort()
    return {
        "p50_ms": round(statistics.median(times), 2),
        "p95_ms": round(times[int(0.95 * (len(times) - 1))], 2),
    }


def measure(app: Stalwart, repeat: int, report: Report) -> dict[str, Any]:
    from stalwart.console.server import ConsoleServer

    with app.engine.connect() as db:
        ids = list(db.execute(sa.select(history_tasks.c.task_id).limit(5000)).scalars())
    letters = [d.id for d in app.dead_letters.list(limit=200)]
    server = ConsoleServer(app, port=0, services=False).start()
    collector = server.asgi.state.console.collector
    rng = random.Random(3)
    client = httpx.Client(base_url=server.url, timeout=60,
                          headers={"Authorization": f"Bearer {TOKEN}"})  # fmt: skip
    try:
        fifth = None
        for _ in range(5):
            params = {"state": "succeeded", **({"cursor": fifth} if fifth else {})}
            fifth = client.get("/api/tasks", params=params).json()["next_cursor"]

        def metrics() -> httpx.Response:
            collector.expire()  # uncached: the worst case of a scrape
            return client.get("/metrics")

        cases: dict[str, Callable[[], httpx.Response]] = {
            "/ (overview page)": lambda: client.get("/"),
            "/api/overview": lambda: client.get("/api/overview"),
            "/api/overview/series": lambda: client.get("/api/overview/series"),
            "/tasks (page)": lambda: client.get("/tasks"),
            "/api/tasks": lambda: client.get("/api/tasks"),
            "/api/tasks?state=failed": lambda: client.get("/api/tasks?state=failed"),
            "/api/tasks?state=dead_lettered&name=job_7": lambda: client.get(
                "/api/tasks", params={"state": "dead_lettered", "name": NAMES[7]}),
            "/api/tasks?name=crm.tasks.job_1*": lambda: client.get(
                "/api/tasks", params={"name": "crm.tasks.job_1*"}),
            "/api/tasks?queue=sms&since=1h": lambda: client.get(
                "/api/tasks", params={"queue": "sms", "since": "1h"}),
            "/api/tasks?text=[4242] (argument search, last hour)": lambda: client.get(
                "/api/tasks", params={"text": "[4242]"}),
            "/api/tasks 6th keyset page": lambda: client.get(
                "/api/tasks", params={"state": "succeeded", "cursor": fifth}),
            "/tasks/{id} (page)": lambda: client.get(f"/tasks/{rng.choice(ids)}"),
            "/api/tasks/{id}": lambda: client.get(f"/api/tasks/{rng.choice(ids)}"),
            "/dlq (page)": lambda: client.get("/dlq"),
            "/api/dlq?name=job_3": lambda: client.get("/api/dlq", params={"name": NAMES[3]}),
            "/dlq/{id} (page)": lambda: client.get(f"/dlq/{rng.choice(letters)}"),
            "/schedules (page)": lambda: client.get("/schedules"),
            "/api/schedules": lambda: client.get("/api/schedules"),
            "/limits (page)": lambda: client.get("/limits"),
            "/queues (page)": lambda: client.get("/queues"),
            "/api/queues": lambda: client.get("/api/queues"),
            "/workers (page)": lambda: client.get("/workers"),
            "/audit (page)": lambda: client.get("/audit"),
            "/api/audit?action=dlq.*": lambda: client.get("/api/audit?action=dlq.*"),
            "/metrics (uncached)": metrics,
        }  # fmt: skip
        # Reads the arguments of all the rows (no full-text index): a few requests only.
        slow: dict[str, Callable[[], httpx.Response]] = {
            "/api/tasks?text=[4242]&since=30d (whole history; 3 requests)": lambda: client.get(
                "/api/tasks", params={"text": "[4242]", "since": "30d"}),
        }  # fmt: skip
        results = {}
        for name, call in [*cases.items(), *slow.items()]:
            results[name] = _timed(call, repeat if name in cases else min(repeat, 3))
            report(f"  {name}: {results[name]}")
        return results
    finally:
        client.close()
        server.stop()


def _vacuum(engine: Engine) -> None:
    """What autovacuum does to a loaded table: set the visibility map, so that counts
    through an index (the unfinished-state gauges of /metrics) are index-only. Right
    after a bulk load, without it, those counts read the heap (~70 ms at 1M rows)."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as db:
        db.execute(sa.text("VACUUM ANALYZE history_tasks"))
        db.execute(sa.text("VACUUM ANALYZE history_events"))


@contextlib.contextmanager
def _store(backend: str, tmp: Path, postgres: str | None) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp / 'console-bench.db'}"
        return
    assert postgres is not None
    with bench_database(postgres) as url:
        yield url


def run_console_bench(
    *,
    rows: int,
    repeat: int,
    postgres: str | None,
    report: Report,
    rounds: int = 1,
    letters: int = 2000,
) -> dict[str, Any]:
    """Per backend, per page: ``{"p50_ms": [one per round], "p95_ms": [...]}``."""
    results: dict[str, Any] = {"rows": rows, "repeat": repeat, "rounds": rounds}
    backends = ["sqlite"] + (["postgresql"] if postgres else [])
    with tempfile.TemporaryDirectory(prefix="stalwart-bench-console-") as tmp:
        for backend in backends:
            with _store(backend, Path(tmp), postgres) as database_url:
                settings = Settings(data_dir=Path(tmp) / "data", database_url=database_url,
                                    console_token=SecretStr(TOKEN))  # fmt: skip
                app = Stalwart("bench-console", settings=settings)
                app.ensure_stores()
                upgrade(app.engine)
                report(f"{backend}: seeding {rows:,} history rows")
                started = time.perf_counter()
                if backend == "sqlite":
                    seed_sqlite(app.engine, rows, report)
                else:
                    seed_postgres(app.engine, rows, report)
                    _vacuum(app.engine)
                seed_operations(app, letters, 1000)
                report(f"  seeded in {time.perf_counter() - started:.0f}s; timing pages")
                try:
                    runs = [measure(app, repeat, report) for _ in range(rounds)]
                    results[backend] = {
                        case: {k: [run[case][k] for run in runs] for k in ("p50_ms", "p95_ms")}
                        for case in runs[0]
                    }
                finally:
                    app.engine.dispose()
                    app.release_stores()
    return results
