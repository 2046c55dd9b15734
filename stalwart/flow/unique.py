"""``unique=True``: at most one queued-or-running instance per (task, arguments).

The lock is ``stalwart:flow:unique:<digest of task name and bound arguments>`` whose
value is the owning task id. It is claimed when the task is *published* (a
``before_task_publish`` receiver, one ``SET NX`` for unique tasks only), so a second
identical send while the first is queued is marked as a duplicate in its headers and
ends without running. The owner keeps the lock through deferrals and retries and
gives it back when it finishes. Messages published without the claim (``send_task``
by name from a process that does not know the task) are checked by the worker
instead: the lock is then taken when the first of them starts.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
from collections.abc import Mapping
from typing import Any

import redis
from celery import current_app
from celery.signals import before_task_publish

from stalwart.flow.keys import unique_key

__all__ = ["DUPLICATE_HEADER", "UNIQUE_TTL", "claim_on_publish", "unique_digest"]

log = logging.getLogger("stalwart.flow")

DUPLICATE_HEADER = "stalwart_duplicate_of"
# The lock outlives a lost message by at most this long (it is refreshed on each start
# and each deferral, so a long wait for a window keeps it).
UNIQUE_TTL = 86_400

# SET NX, or say who holds it: one round trip.
_CLAIM = """
local owner = redis.call('GET', KEYS[1])
if owner and owner ~= ARGV[1] then return owner end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return false
"""


def unique_digest(task: Any, args: Any, kwargs: Mapping[str, Any] | None) -> str:
    """Key of (task, arguments), the same for positional and keyword calls."""
    args = tuple(args or ())
    kwargs = dict(kwargs or {})
    try:
        bound = inspect.signature(task.run).bind_partial(*args, **kwargs)
        bound.apply_defaults()
        canonical: Any = sorted(bound.arguments.items())
    except (TypeError, ValueError):
        canonical = [list(args), sorted(kwargs.items())]
    text = json.dumps([task.name, canonical], sort_keys=True, default=str)
    return unique_key(hashlib.sha1(text.encode()).hexdigest())


def claim_on_publish(client: redis.Redis, lock: str, task_id: str) -> str | None:
    """Claim ``lock`` for ``task_id``; returns the other owner's id if already held."""
    owner = client.eval(_CLAIM, 1, lock, task_id, UNIQUE_TTL)
    if owner is None:
        return None
    return owner.decode() if isinstance(owner, bytes) else str(owner)


def connect_signals() -> None:
    """Claim unique locks when a task is published (idempotent: a dispatch uid)."""
    before_task_publish.connect(
        _claim_unique_on_publish, weak=False, dispatch_uid="stalwart.flow.unique"
    )


def _claim_unique_on_publish(
    sender: str | None = None,
    body: Any = None,
    headers: dict[str, Any] | None = None,
    **_: Any,
) -> None:
    """Mark a second queued instance of a unique task as a duplicate of the first."""
    if headers is None or sender is None or DUPLICATE_HEADER in headers:
        return
    task = current_app.tasks.get(sender)
    options = getattr(task, "stalwart_options", None)
    if task is None or options is None or not options.unique:
        return
    task_id = headers.get("id")
    if not task_id or not isinstance(body, tuple | list) or len(body) < 2:
        return
    lock = unique_digest(task, body[0], body[1])
    try:
        owner = claim_on_publish(task.app.redis, lock, str(task_id))
    except redis.RedisError:
        # Publishing must not fail because of the lock; the worker checks again.
        log.warning("unique claim for %s failed; the worker will check", sender, exc_info=True)
        return
    if owner is not None:
        headers[DUPLICATE_HEADER] = owner
