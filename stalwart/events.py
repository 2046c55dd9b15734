"""Task lifecycle events: the vocabulary, and appending them to the event stream.

Every part of Stalwart that changes a task's fate (the worker hooks, retries, deferral,
the dead-letter store, replay) appends an event to one Redis stream,
``stalwart:events``; the recorder turns the stream into durable history. Appending
takes a Redis client *or pipeline*, so callers batch it with work they already send
instead of adding a round trip.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import redis

from stalwart.coordination import key

__all__ = [
    "EVENT_STREAM",
    "EventKind",
    "TaskEvent",
    "append_event",
    "decode_entry",
    "decode_event",
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

    def encode(self) -> dict[str, str]:
        return {
            "kind": self.kind.value,
            "task_id": self.task_id,
            "name": self.name,
            "at": repr(self.at),
            "fields": json.dumps(self.fields, default=str, separators=(",", ":")),
        }


def append_event(
    client: redis.Redis | redis.client.Pipeline,
    event: TaskEvent,
    maxlen: int = DEFAULT_MAXLEN,
) -> Any:
    """XADD the event (approximately trimmed to ``maxlen``). Pass a pipeline to batch it."""
    return client.xadd(EVENT_STREAM, event.encode(), maxlen=maxlen, approximate=True)  # type: ignore[arg-type]


def encode_batch(events: list[tuple[str, TaskEvent]]) -> dict[str, str]:
    """One stream entry carrying many ``(event id, event)`` pairs (one XADD per flush).

    A stream entry costs Redis and the recorder about as much as a small event does,
    so the per-process buffers send what accumulated as one entry instead of one each.
    """
    rows = [[eid, e.kind.value, e.task_id, e.name, e.at, e.fields] for eid, e in events]
    return {"batch": json.dumps(rows, default=str, separators=(",", ":"))}


def decode_entry(raw: dict[bytes, bytes]) -> list[tuple[str | None, TaskEvent]]:
    """The ``(event id or None, event)`` pairs of a stream entry (a batch or one event).

    Raises ``KeyError``, ``ValueError`` or ``TypeError`` for a malformed entry.
    """
    batch = raw.get(b"batch")
    if batch is None:
        eid = raw.get(b"eid")
        return [(eid.decode() if eid else None, decode_event(raw))]
    return [
        (str(eid), TaskEvent(EventKind(kind), str(task_id), str(name), float(at), dict(fields)))
        for eid, kind, task_id, name, at, fields in json.loads(batch)
    ]


def decode_event(raw: dict[bytes, bytes]) -> TaskEvent:
    data = {k.decode(): v.decode() for k, v in raw.items()}
    return TaskEvent(
        kind=EventKind(data["kind"]),
        task_id=data["task_id"],
        name=data.get("name", ""),
        at=float(data["at"]),
        fields=json.loads(data.get("fields") or "{}"),
    )
