"""``Limit``: one kind of flow-control limit, as the one check script and people see it.

Every limit a task has is checked in **one** Lua script per execution, composed from
the fragments of just the limits that task has (:mod:`stalwart.limits.script`), and
everything it holds is given back by one finish script. A limit is a class with:

- ``option``: the task option that configures it (parsed at decoration);
- ``KEYS`` / ``CHECK_ARGS`` / ``FINISH_ARGS`` / ``REFUND_ARGS``: the names of its keys
  and arguments, and :meth:`keys` / :meth:`check_args` / ... their values for one
  execution: **by name**, the composer turns them into ``KEYS[i]``/``ARGV[j]``;
- Lua fragments, which use ``K.<key>`` and ``A.<arg>`` for their own keys and
  arguments and may read ``now`` (Redis clock), ``id`` (the task id) and call
  ``deny(reason, seconds)``:

  ``CHECK_LUA``   decide (may ``deny``; nothing consumed here)
  ``ALWAYS_LUA``  after the decision, admitted or not (e.g. refresh a unique lock)
  ``TAKE_LUA``    consume, only when every limit admitted the execution
  ``FINISH_LUA``  give back after the execution ended
  ``REFUND_LUA``  give back what ``TAKE_LUA`` took when the execution never ran (a
                  duplicate stopped by its idempotency key: limits count runs)

- :meth:`describe` (what ``stalwart limits`` lists for the scope) and
  :meth:`read_state` (its live state, read from the same keys).

A limit that needs no Redis (a calendar window) overrides :meth:`precheck` instead. A
new limit is one module with one class, named once in ``stalwart.limits.LIMITS``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, ClassVar
from zoneinfo import ZoneInfo

import redis

if TYPE_CHECKING:
    from stalwart.middleware.base import TaskOption
    from stalwart.middleware.controls import Outcome
    from stalwart.options import TaskOptions

__all__ = ["Admission", "Limit", "LimitState", "Value"]

Value = str | int | float


@dataclass(frozen=True)
class Admission:
    """One execution being checked: who, in which scope, at what (calendar) time."""

    task: Any  # the StalwartTask
    task_id: str
    scope: str  # the task, or the task and its limit_key value
    limit_key: str
    now: float  # the app's clock (injectable in tests): calendar decisions
    zone: ZoneInfo  # the zone calendar limits use (the window's, else the app's)
    args: tuple[Any, ...]
    kwargs: Mapping[str, Any]

    @property
    def task_name(self) -> str:
        return str(self.task.name)


@dataclass(frozen=True)
class LimitState:
    """One limit of one scope (task, or task + limit_key), for people."""

    kind: str  # throttle | quota | concurrency | breaker | window | ...
    task: str
    key: str
    limit: str
    used: int
    next_free: float | None  # epoch seconds; None = free now
    resets_at: float | None = None  # quota: when the current period ends (epoch seconds)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Limit:
    """Base of every limit; one instance per task that sets its option."""

    kind: ClassVar[str] = ""
    #: The option that configures it (None for an implied limit).
    option: ClassVar[TaskOption[Any] | None] = None
    #: True: every task with at least one other limit has this one too (its value None).
    implied: ClassVar[bool] = False
    #: False: this limit's check keeps a round trip of its own (never rides in the
    #: STARTED write), e.g. because it claims something an outer middleware might
    #: have to give back.
    rides_early: ClassVar[bool] = True

    KEYS: ClassVar[tuple[str, ...]] = ()
    CHECK_ARGS: ClassVar[tuple[str, ...]] = ()
    FINISH_ARGS: ClassVar[tuple[str, ...]] = ()
    #: FINISH_ARGS values that make FINISH_LUA do nothing (when another limit of the
    #: task has something to give back and this one has not).
    FINISH_IDLE: ClassVar[Mapping[str, Value]] = {}
    REFUND_ARGS: ClassVar[tuple[str, ...]] = ()
    CHECK_LUA: ClassVar[str] = ""
    ALWAYS_LUA: ClassVar[str] = ""
    TAKE_LUA: ClassVar[str] = ""
    FINISH_LUA: ClassVar[str] = ""
    REFUND_LUA: ClassVar[str] = ""

    def __init__(self, value: Any) -> None:
        self.value = value

    @classmethod
    def configured(cls, options: TaskOptions) -> Any:
        """The task's value of :attr:`option` (None when the task does not set it)."""
        if cls.option is None:
            return None
        value = cls.option.of(options)
        return value if value not in (None, False, 0) else None

    # -- one execution ----------------------------------------------------------------------

    def precheck(self, admission: Admission) -> float | None:
        """Pure-Python check before the script: an epoch time to defer to, or None."""
        return None

    def keys(self, admission: Admission) -> dict[str, str]:
        return {}

    def check_args(self, admission: Admission) -> dict[str, Value]:
        return {}

    def finish_args(self, admission: Admission, outcome: Outcome) -> dict[str, Value] | None:
        """Arguments of the finish fragment for an admitted execution that ended with
        ``outcome``, or None when this limit has nothing to give back."""
        return None

    def refund_args(self, admission: Admission, admitted_at: str) -> dict[str, Value]:
        """Arguments of the refund fragment (``admitted_at``: the check's Redis time)."""
        return {}

    def admitted(self, admission: Admission, keys: Mapping[str, str], client: redis.Redis) -> None:
        """Python side of an admission (e.g. start extending a lease)."""

    def finished(self, admission: Admission, keys: Mapping[str, str]) -> None:
        """Python side of the end of an admitted execution."""

    # -- for people ---------------------------------------------------------------------------

    def describe(self) -> Any:
        """This limit's configuration as a JSON value, kept in the limits registry for
        :meth:`read_state` and ``stalwart limits``."""
        return None

    @classmethod
    def read_state(
        cls, client: redis.Redis, scope: str, info: Mapping[str, Any], now: float
    ) -> list[LimitState]:
        """The live state of this limit in ``scope`` (``info``: the registry entry)."""
        return []
