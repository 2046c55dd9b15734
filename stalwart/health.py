"""Health of a Stalwart deployment: broker, coordination store, database, workers.

Collected here, shown by ``stalwart health`` and the console's ``/readyz``.
Checks never start anything (not even the embedded server): they look.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import redis

from stalwart.db.migrate import HEAD
from stalwart.history.lag import recorder_lag
from stalwart.settings import Settings, display_url
from stalwart.worker.heartbeat import list_workers

__all__ = ["Check", "HealthReport", "check_health"]

TIMEOUT = 3.0


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class HealthReport:
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checks": [asdict(check) for check in self.checks]}


def check_health(settings: Settings) -> HealthReport:
    coordination = _quick_client(settings.effective_redis_url)
    reached = _check_coordination(settings, coordination)
    checks = [_check_broker(settings), reached, _check_database(settings)]
    if reached.ok:
        checks += [_check_workers(coordination), _check_recorder(coordination)]
    else:
        unknown = "not checked: the coordination store is not reachable"
        checks += [Check("workers", False, unknown), Check("recorder", False, unknown)]
    return HealthReport(tuple(checks))


def _quick_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(
        url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT, retry_on_timeout=False
    )


def _describe_url(settings: Settings, url: str) -> str:
    if url.startswith(("unix", "redis+socket")) and url.endswith(str(settings.embedded_socket)):
        return f"embedded server ({settings.embedded_socket})"
    return display_url(url)


def _unreachable(settings: Settings, url: str, exc: BaseException) -> str:
    where = _describe_url(settings, url)
    if where.startswith("embedded") and not settings.embedded_socket.exists():
        return f"{where} is not running (no worker, beat or console is using it)"
    return f"{where} is unreachable: {_short(exc)}"


def _check_broker(settings: Settings) -> Check:
    url = settings.effective_broker_url
    where = _describe_url(settings, url)
    try:
        if settings.broker_is_redis:
            _quick_client(url.replace("redis+socket://", "unix://", 1)).ping()
        else:
            from kombu.connection import Connection

            with Connection(url, connect_timeout=TIMEOUT) as conn:  # type: ignore[no-untyped-call]
                conn.ensure_connection(max_retries=1, interval_start=0, timeout=TIMEOUT)
    except Exception as exc:
        return Check("broker", False, _unreachable(settings, url, exc))
    return Check("broker", True, f"{where} reachable")


def _check_coordination(settings: Settings, client: redis.Redis) -> Check:
    where = _describe_url(settings, settings.effective_redis_url)
    try:
        client.ping()
    except Exception as exc:
        problem = _unreachable(settings, settings.effective_redis_url, exc)
        return Check("coordination", False, problem)
    return Check("coordination", True, f"{where} reachable")


def _check_database(settings: Settings) -> Check:
    url = settings.effective_database_url
    path = _sqlite_file(url)
    return _check_sqlite(path) if path is not None else _check_sql_server(url)


def _sqlite_file(url: str) -> Path | None:
    """The file of a plain ``sqlite:///PATH`` URL (the default store), else None."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or "?" in url or url[len(prefix) :] in ("", ":memory:"):
        return None
    return Path(url[len(prefix) :]).resolve()


def _check_sqlite(path: Path) -> Check:
    """Read-only, with the standard library: looking never creates the file, and a health
    check does not pay for importing SQLAlchemy."""
    if not path.exists():
        return Check("database", False, f"no store at {path}: nothing has run with it yet")
    try:
        with closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=TIMEOUT)) as db:
            try:
                row = db.execute("SELECT version_num FROM alembic_version").fetchone()
            except sqlite3.OperationalError as exc:
                if "no such table" not in str(exc):
                    raise
                row = None
    except sqlite3.Error as exc:
        return Check("database", False, f"unreachable: {_short(exc)}")
    return _schema("sqlite", row[0] if row else None)


def _check_sql_server(url: str) -> Check:
    from sqlalchemy import text

    from stalwart.db.engine import create_engine_for
    from stalwart.db.migrate import stored_revision

    engine = create_engine_for(url)
    try:
        with engine.connect() as db:
            db.execute(text("SELECT 1"))
        current = stored_revision(engine)
    except Exception as exc:
        return Check("database", False, f"unreachable: {_short(exc)}")
    finally:
        engine.dispose()
    return _schema(engine.url.get_backend_name(), current)


def _schema(backend: str, current: str | None) -> Check:
    if current != HEAD:
        return Check(
            "database",
            False,
            f"schema at {current}, code expects {HEAD}: run 'stalwart db upgrade'",
        )
    return Check("database", True, f"{backend} schema {current}")


def _check_workers(client: redis.Redis) -> Check:
    try:
        workers = list_workers(client)
    except Exception as exc:
        return Check("workers", False, f"cannot read heartbeats: {_short(exc)}")
    if not workers:
        return Check("workers", False, "no worker heartbeat in the last 15s")
    names = ", ".join(w.hostname for w in workers)
    return Check("workers", True, f"{len(workers)} alive: {names}")


def _check_recorder(client: redis.Redis) -> Check:
    """History's lag: events not yet recorded, and how long the oldest has waited."""
    try:
        lag = recorder_lag(client)
    except Exception as exc:
        return Check("recorder", False, f"cannot read the event stream: {_short(exc)}")
    return Check("recorder", lag.ok, lag.describe())


def _short(exc: BaseException) -> str:
    text_ = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text_[:200]
