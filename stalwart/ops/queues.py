"""Queues: depth, age of the oldest message, consumers and rates in/out (``stalwart queues``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from stalwart.history.brokers import probe_for
from stalwart.history.query import queue_rates
from stalwart.worker.heartbeat import WorkerInfo, list_workers

if TYPE_CHECKING:
    import redis
    from sqlalchemy.engine import Engine

    from stalwart.settings import Settings

__all__ = ["RATE_WINDOW", "QueueRow", "is_internal", "list_queues"]

RATE_WINDOW = 60.0


@dataclass(frozen=True)
class QueueRow:
    """One queue; rates are tasks per second over the last :data:`RATE_WINDOW` seconds."""

    queue: str
    depth: int
    oldest_age: float | None
    consumers: int
    rate_in: float
    rate_out: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def is_internal(queue: str) -> bool:
    """Celery's own queues (monitoring events, remote control): no task waits there."""
    return queue.startswith("celeryev.") or queue.endswith(".pidbox")


def list_queues(
    settings: Settings,
    client: redis.Redis | None,
    engine: Engine | None,
    default_queue: str = "celery",
    workers: list[WorkerInfo] | None = None,
) -> list[QueueRow]:
    """Every queue the broker knows or a worker consumes, plus the default queue.

    ``client`` (the coordination store) and ``engine`` (the durable store) may be None
    when there is none yet: no consumers known from heartbeats, no rates.
    """
    if workers is None:
        workers = list_workers(client) if client is not None else []
    probe = probe_for(settings)
    try:
        names = set(probe.queue_names()) | {q for w in workers for q in w.queues}
        names.add(default_queue)
        states = [probe.state(name) for name in sorted(names) if not is_internal(name)]
    finally:
        probe.close()
    rates: dict[str, Any] = {s.name: {"in": 0.0, "out": 0.0} for s in states}
    if engine is not None:
        rates = queue_rates(engine, [s.name for s in states], RATE_WINDOW)
    rows = []
    for state in states:
        consumers = state.consumers
        if consumers is None:
            consumers = sum(1 for w in workers if state.name in w.queues)
        rows.append(
            QueueRow(
                queue=state.name,
                depth=state.depth,
                oldest_age=None if state.oldest_age is None else round(state.oldest_age, 3),
                consumers=consumers,
                rate_in=round(rates[state.name]["in"], 3),
                rate_out=round(rates[state.name]["out"], 3),
            )
        )
    return rows
