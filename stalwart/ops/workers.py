"""Workers (heartbeats and the tasks history shows running on them) and beat processes."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from stalwart.history.query import running_tasks
from stalwart.scheduler.presence import list_beats
from stalwart.worker.heartbeat import WorkerInfo, list_workers

if TYPE_CHECKING:
    import redis
    from sqlalchemy.engine import Engine

__all__ = ["BeatRow", "WorkerRow", "list_beat_rows", "list_worker_rows"]


@dataclass(frozen=True)
class WorkerRow:
    hostname: str
    host: str
    pid: int
    pool: str
    concurrency: int
    queues: list[str]
    last_heartbeat_age: float
    alive: bool
    running: list[dict[str, str | None]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class BeatRow:
    id: str
    host: str
    pid: int
    role: str  # leader | standby
    last_tick_age: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def list_worker_rows(
    client: redis.Redis,
    engine: Engine | None,
    include_dead: bool = False,
    infos: list[WorkerInfo] | None = None,
) -> list[WorkerRow]:
    """Workers with a recent heartbeat (all known ones with ``include_dead``), and the
    tasks history shows running on them (none when there is no durable store yet)."""
    if infos is None:
        infos = list_workers(client, include_dead=include_dead)
    running = running_tasks(engine, [w.hostname for w in infos]) if engine is not None else {}
    return [
        WorkerRow(
            hostname=w.hostname,
            host=w.host,
            pid=w.pid,
            pool=w.pool,
            concurrency=w.concurrency,
            queues=list(w.queues),
            last_heartbeat_age=round(w.age, 3),
            alive=w.alive,
            running=[{"task_id": t.task_id, "name": t.name} for t in running.get(w.hostname, [])],
        )
        for w in infos
    ]


def list_beat_rows(client: redis.Redis, now: float) -> list[BeatRow]:
    """Beat processes seen recently, the leader first."""
    return [
        BeatRow(b.id, b.host, b.pid, b.role, round(max(0.0, now - b.last_tick), 3))
        for b in list_beats(client)
    ]
