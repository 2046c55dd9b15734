"""Publish attempts per outbox row: a second attempt is published under its own task id.

A relay that dies after publishing a batch but before committing leaves the rows in
the table, and the next round publishes them again. Both copies may then be live at
once, and a task id seen twice would be taken for a redelivery (which may take over a
running execution's idempotency lease). So each attempt is counted in the coordination
store before publishing (one pipelined round trip per batch); an attempt after the
first is published as ``<task id>-<attempt>``, which the idempotency key holds back
until the first copy is done and then answers with the first copy's result.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import redis

from stalwart.coordination import key
from stalwart.outbox.record import OutboxRecord

__all__ = ["count_attempts", "forget_attempts"]

ATTEMPT_TTL = 7 * 86_400


def _attempt_key(record: OutboxRecord) -> str:
    return key("outbox", "attempt", record.task_id)


def count_attempts(client: redis.Redis, records: Sequence[OutboxRecord]) -> list[OutboxRecord]:
    """Count this publish attempt of each record (records come back with ``attempt`` set)."""
    pipe = client.pipeline(transaction=False)
    for record in records:
        pipe.incr(_attempt_key(record))
        pipe.expire(_attempt_key(record), ATTEMPT_TTL)
    replies = pipe.execute()
    return [
        dataclasses.replace(record, attempt=int(attempt))
        for record, attempt in zip(records, replies[::2], strict=True)
    ]


def forget_attempts(client: redis.Redis, records: Sequence[OutboxRecord]) -> None:
    """Uncount attempts that published nothing (the broker refused): they never happened."""
    if not records:
        return
    pipe = client.pipeline(transaction=False)
    for record in records:
        pipe.decr(_attempt_key(record))
    pipe.execute()
