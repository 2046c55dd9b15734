"""``unique=True``: at most one queued-or-running instance per (task, arguments).

The lock is ``stalwart:flow:unique:<digest of task name and bound arguments>`` whose
value is the owning task id. It is claimed when the task is *published* (the
:class:`~stalwart.middleware.unique.Unique` middleware, one ``SET NX`` for unique
tasks only), so a second identical send while the first is queued is marked as a
duplicate in its headers and ends without running. The owner keeps the lock through
deferrals and retries and gives it back when it finishes. Messages published without
the claim (``send_task`` by name from a process that does not know the task) are
checked by the worker instead (:class:`UniqueLimit`, in the task's check script): the
lock is then taken when the first of them starts. A duplicate consumes no other limit.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Mapping
from typing import Any, ClassVar

import redis

from stalwart.errors import TaskOptionError
from stalwart.limits.base import Admission, Limit, Value
from stalwart.limits.keys import scoped
from stalwart.lua import Lua
from stalwart.middleware.base import OptionTarget, TaskOption
from stalwart.middleware.controls import Outcome

__all__ = [
    "DUPLICATE_HEADER",
    "UNIQUE",
    "UNIQUE_TTL",
    "UniqueLimit",
    "claim_on_publish",
    "release",
    "unique_digest",
]

DUPLICATE_HEADER = "stalwart_duplicate_of"
# The lock outlives a lost message by at most this long (it is refreshed on each start
# and each deferral, so a long wait for a window keeps it).
UNIQUE_TTL = 86_400

# SET NX, or say who holds it: one round trip.
_CLAIM = Lua("""
local owner = redis.call('GET', KEYS[1])
if owner and owner ~= ARGV[1] then return owner end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return false
""")
_RELEASE = Lua("""
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
""")


def _parse(value: Any, target: OptionTarget) -> bool:
    if not isinstance(value, bool):
        raise TaskOptionError(f"unique must be True or False, not {value!r}")
    return value


UNIQUE: TaskOption[bool] = TaskOption(
    "unique",
    parse=_parse,
    default=False,
    doc="At most one queued-or-running instance per (task, arguments); duplicates end unrun.",
)


def unique_digest(task: Any, args: Any, kwargs: Mapping[str, Any] | None) -> str:
    """Lock key of (task, arguments), the same for positional and keyword calls."""
    args = tuple(args or ())
    kwargs = dict(kwargs or {})
    try:
        bound = inspect.signature(task.run).bind_partial(*args, **kwargs)
        bound.apply_defaults()
        canonical: Any = sorted(bound.arguments.items())
    except (TypeError, ValueError):
        canonical = [list(args), sorted(kwargs.items())]
    text = json.dumps([task.name, canonical], sort_keys=True, default=str)
    return scoped("unique", hashlib.sha1(text.encode()).hexdigest())


def claim_on_publish(client: redis.Redis, lock: str, task_id: str) -> str | None:
    """Claim ``lock`` for ``task_id``; returns the other owner's id if already held."""
    owner = _CLAIM.run(client, [lock], [task_id, UNIQUE_TTL])
    if owner is None:
        return None
    return owner.decode() if isinstance(owner, bytes) else str(owner)


def release(client: redis.Redis, lock: str, task_id: str) -> None:
    """Give ``lock`` back if ``task_id`` holds it."""
    _RELEASE.run(client, [lock], [task_id])


class UniqueLimit(Limit):
    """The worker-side check of ``unique=True`` (a duplicate consumes nothing)."""

    kind = "unique"
    option = UNIQUE
    rides_early = False

    KEYS: ClassVar[tuple[str, ...]] = ("lock",)
    CHECK_ARGS: ClassVar[tuple[str, ...]] = ("ttl",)
    FINISH_ARGS: ClassVar[tuple[str, ...]] = ("release",)
    FINISH_IDLE: ClassVar[Mapping[str, Value]] = {"release": 0}
    CHECK_LUA = """
local un_owner = redis.call('GET', K.lock)
if un_owner and un_owner ~= id then return {0, 'duplicate', un_owner, tostring(now)} end
"""
    ALWAYS_LUA = """
redis.call('SET', K.lock, id, 'EX', math.ceil(tonumber(A.ttl) + wait))
"""
    FINISH_LUA = """
if A.release == '1' and redis.call('GET', K.lock) == id then redis.call('DEL', K.lock) end
"""

    def keys(self, admission: Admission) -> dict[str, str]:
        return {"lock": unique_digest(admission.task, admission.args, admission.kwargs)}

    def check_args(self, admission: Admission) -> dict[str, Value]:
        return {"ttl": UNIQUE_TTL}

    def finish_args(self, admission: Admission, outcome: Outcome) -> dict[str, Value] | None:
        # A task that will run again (retry, deferral) keeps its lock.
        return None if outcome.waiting else {"release": 1}
