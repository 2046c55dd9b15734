"""Task lifecycle events: the vocabulary, their one encoding, and their one path.

Every part of Stalwart that changes or learns a task's fate (the publish and execute
phases of the pipeline, Celery's worker signals, the dead-letter store, replay,
progress) records an event with ``app.task_events.add(event)``: a per-process buffer
(:mod:`.buffer`) sends what accumulated as one entry of the Redis stream
``stalwart:events`` (:func:`encode_batch`) every 100 ms, never a round trip per task;
the recorder turns the stream into durable history.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from stalwart.coordination import key

__all__ = [
    "EVENT_STREAM",
    "EventKind",
    "TaskEvent",
    "decode_entry",
    "encode_batch",
]

EVENT_STREAM = key("events")
DEFAULT_MAXLEN = 1_000_000


class EventKind(StrEnum):
    SENT = "sent"
    RECEIVED = "received"
    STARTED = "started"
    PROGRESS = "progress"
    RETRIED = "retried"
    DEFERRED = "deferred"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    DEAD_LETTERED = "dead_lettered"
    REVOKED = "revoked"
    REPLAYED = "replayed"


@dataclass(frozen=True)
class TaskEvent:
    """One thing that happened to one task. ``fields`` are kind-specific (JSON)."""

    kind: EventKind
    task_id: str
    name: str = ""
    at: float = field(default_factory=time.time)
    fields: dict[str, Any] = field(default_factory=dict)


def encode_batch(events: list[tuple[str, TaskEvent]]) -> dict[str, str]:
    """One stream entry carrying many ``(event id, event)`` pairs (one XADD per flush).

    A stream entry costs Redis and the recorder about as much as a small event does,
    so the per-process buffers send what accumulated as one entry instead of one each.
    Every event carries its own id, so an entry sent twice is stored once.
    """
    rows = [[eid, e.kind.value, e.task_id, e.name, e.at, e.fields] for eid, e in events]
    return {"batch": json.dumps(rows, default=str, separators=(",", ":"))}


def decode_entry(raw: dict[bytes, bytes]) -> list[tuple[str, TaskEvent]]:
    """The ``(event id, event)`` pairs of a stream entry.

    Raises ``KeyError``, ``ValueError`` or ``TypeError`` for a malformed entry.
    """
    return [
        (str(eid), TaskEvent(EventKind(kind), str(task_id), str(name), float(at), dict(fields)))
        for eid, kind, task_id, name, at, fields in json.loads(raw[b"batch"])
    ]
