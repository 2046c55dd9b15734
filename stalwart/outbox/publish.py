"""Publishing one batch of outbox records: the one function the relay calls.

The records go out with bulk publishing (:mod:`stalwart.bulk`: one pipelined round trip
per batch and task name, each message exactly as ``.delay`` would send it). The
contract is "publish these, in order; return how many were published before the first
failure": the relay puts the rest back. (A lost broker fails every call after the
first failure; a single call cannot fail on its own, every row was checked as JSON when
it was written.)
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from stalwart.bulk import Call
from stalwart.outbox.record import OutboxRecord

if TYPE_CHECKING:
    from stalwart.app import Stalwart

__all__ = ["publish_batch"]

log = logging.getLogger("stalwart.outbox")


def publish_batch(app: Stalwart, records: Sequence[OutboxRecord]) -> int:
    """Publish ``records`` in order, a bulk batch per run of one task name; the count
    published before the first failure (logged)."""
    published = 0
    for name, run in itertools.groupby(records, key=lambda record: record.name):
        group = list(run)
        calls = [Call(r.args, r.kwargs, r.publish_options()) for r in group]
        outcome = app.send_many(name, calls)
        for index, record in enumerate(group):
            error = outcome.errors.get(index)
            if error is not None:
                log.warning("outbox: publishing %s[%s] failed: %r", name, record.task_id, error)
                return published
            published += 1
    return published
