"""Health of a Stalwart deployment: broker, coordination store, database, workers.

Collected here, shown by ``stalwart health`` and the console's ``/readyz``.
Checks never start anything (not even the embedded server): they look.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import redis
from kombu.connection import Connection
from sqlalchemy import text

from stalwart.db.engine import create_engine_for
from stalwart.db.migrate import current_revision, head_revision
from stalwart.history.lag import recorder_lag
from stalwart.settings import Settings
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
    checks = [
        _check_broker(settings),
        _check_coordination(settings, coordination),
        _check_database(settings),
        _check_workers(coordination),
        _check_recorder(coordination),
    ]
    return HealthReport(tuple(checks))


def _quick_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(
        url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT, retry_on_timeout=False
    )


def _describe_url(settings: Settings, url: str) -> str:
    return (
        "embedded server" if settings.embedded and url.startswith(("unix", "redis+socket")) else url
    )


def _check_broker(settings: Settings) -> Check:
    url = settings.effective_broker_url
    where = _describe_url(settings, url)
    try:
        if settings.broker_is_redis:
            _quick_client(url.replace("redis+socket://", "unix://", 1)).ping()
        else:
            with Connection(url, connect_timeout=TIMEOUT) as conn:  # type: ignore[no-untyped-call]
                conn.ensure_connection(max_retries=1, interval_start=0, timeout=TIMEOUT)
    except Exception as exc:
        return Check("broker", False, f"{where} is unreachable: {_short(exc)}")
    return Check("broker", True, f"{where} reachable")


def _check_coordination(settings: Settings, client: redis.Redis) -> Check:
    where = _describe_url(settings, settings.effective_redis_url)
    try:
        client.ping()
    except Exception as exc:
        return Check("coordination", False, f"{where} is unreachable: {_short(exc)}")
    return Check("coordination", True, f"{where} reachable")


def _check_database(settings: Settings) -> Check:
    engine = create_engine_for(settings.effective_database_url)
    try:
        with engine.connect() as db:
            db.execute(text("SELECT 1"))
        current, head = current_revision(engine), head_revision()
    except Exception as exc:
        return Check("database", False, f"unreachable: {_short(exc)}")
    finally:
        engine.dispose()
    if current != head:
        return Check(
            "database",
            False,
            f"schema at {current}, code expects {head}: run 'stalwart db upgrade'",
        )
    return Check("database", True, f"{engine.url.get_backend_name()} schema {current}")


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
