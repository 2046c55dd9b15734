"""Flow control: every limit a task has, checked in one script before its body runs.

The limits are :class:`~stalwart.limits.base.Limit` classes (:data:`stalwart.limits.LIMITS`);
this middleware owns their task options plus ``limit_key``, and per task type builds
once the list of limits the task has and their composed scripts
(:mod:`stalwart.limits.script`).

- ``prepare``: for a first delivery whose limits may ride, the check is an early rider
  of Celery's ``STARTED`` write (no round trip of its own).
- ``before_execute``: a calendar window defers without Redis; otherwise the check's
  reply (early, or a round trip now, which also lists a new scope in the limits
  registry) admits the execution, or defers it to the earliest time worth trying
  again, or ends a duplicate.
- ``after_execute``: an admitted execution gives back what it holds (concurrency slot,
  unique lock, breaker result, a RetryAfter pause) in a late rider of the result
  write; an execution whose early check admitted it but which never reached this
  middleware (a duplicate stopped by its idempotency key) gets a refund: limits count
  runs, not deliveries.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from stalwart.errors import StoreUnavailable, TaskOptionError
from stalwart.keyspec import KeySpec
from stalwart.limits import LIMITS
from stalwart.limits.base import Admission, Limit, Value
from stalwart.limits.clock import clock_for
from stalwart.limits.keys import REGISTRY, limit_scope
from stalwart.limits.script import Scripts
from stalwart.limits.unique import DUPLICATE_HEADER, UNIQUE
from stalwart.limits.window import WINDOW
from stalwart.middleware.base import Middleware, OptionTarget, TaskOption
from stalwart.middleware.call import Execution
from stalwart.middleware.controls import Deferred, Outcome, ReturnResult
from stalwart.middleware.riders import Rider

if TYPE_CHECKING:
    from stalwart.options import TaskOptions
    from stalwart.task import StalwartTask

__all__ = ["LIMIT_KEY", "FlowControl", "admitted_at"]


def _parse_limit_key(value: Any, target: OptionTarget) -> KeySpec | None:
    if value is None:
        return None
    return KeySpec.parse("limit_key", value, target.fun, bound=target.bound)


LIMIT_KEY: TaskOption[KeySpec | None] = TaskOption(
    "limit_key",
    parse=_parse_limit_key,
    default=None,
    doc="Apply throttle/quota/concurrency per value of this key, e.g. '{sender}'.",
)


@dataclass
class _TaskPlan:
    """What one task type needs, computed once: its limits and their scripts."""

    limits: tuple[Limit, ...]
    scripts: Scripts
    limit_key: KeySpec | None
    zone: ZoneInfo
    rides_early: bool
    describe: dict[str, Any]


@dataclass(eq=False)
class _State:
    """This middleware's part of one execution."""

    plan: _TaskPlan
    admission: Admission
    keys: list[dict[str, str]]
    early: Rider | None = None
    checked: bool = False  # before_execute ran the check
    admitted_at: str | None = None  # Redis time of the admission (None: not admitted)


class FlowControl(Middleware):
    """Throttle, quota, window, concurrency, unique and breaker, for every worker."""

    name = "flow"
    eager = False

    def __init__(self, limits: Sequence[type[Limit]] = LIMITS) -> None:
        self.limits = tuple(limits)
        self.options = (LIMIT_KEY, *(lim.option for lim in self.limits if lim.option is not None))
        self._plans: dict[str, _TaskPlan | None] = {}
        self._registered: set[str] = set()

    def check_options(self, options: TaskOptions, target: OptionTarget) -> None:
        if LIMIT_KEY.of(options) is not None and not any(
            options.get(name) for name in ("throttle", "quota", "concurrency")
        ):
            raise TaskOptionError("limit_key needs throttle, quota or concurrency")

    # -- per task type ----------------------------------------------------------------------

    def plan(self, task: StalwartTask) -> _TaskPlan | None:
        """The task's limits and scripts (None: the task has no limit)."""
        try:
            return self._plans[task.name]
        except KeyError:
            pass
        options = task.stalwart_options
        values = {cls: cls.configured(options) for cls in self.limits if not cls.implied}
        chosen = {cls for cls, value in values.items() if value is not None}
        plan: _TaskPlan | None = None
        if chosen:
            limits = [cls(values.get(cls)) for cls in self.limits if cls in chosen or cls.implied]
            app_zone = task.app.settings.timezone
            window = WINDOW.of(options)
            zone = window.zone_or(app_zone) if window is not None else ZoneInfo(app_zone)
            described: dict[str, Any] = {"task": task.name, "zone": str(zone.key)}
            for limit in limits:
                if limit.describe() is not None:
                    described[limit.kind] = limit.describe()
            plan = _TaskPlan(
                limits=tuple(limits),
                scripts=Scripts([limit for limit in limits if limit.KEYS]),
                limit_key=LIMIT_KEY.of(options),
                zone=zone,
                rides_early=all(limit.rides_early for limit in limits),
                describe=described,
            )
        self._plans[task.name] = plan
        return plan

    # -- phases ------------------------------------------------------------------------------

    def prepare(self, execution: Execution) -> None:
        plan = self.plan(execution.task)
        if plan is None or not plan.rides_early or execution.redelivered:
            return
        if not (execution.carries and execution.started_write):
            return  # no STARTED write to ride: before_execute checks with its own trip
        state = self._state(execution, plan)
        if state.admission.scope not in self._registered or self._precheck(state) is not None:
            return  # a new scope is listed first; a closed window needs no Redis
        keys, args = self._check_call(state)
        state.early = execution.early(plan.scripts.check.text, keys, args)

    def before_execute(self, execution: Execution) -> None:
        state: _State | None = execution.state.get(self.name)
        if state is None:
            plan = self.plan(execution.task)
            if plan is None:
                return
            state = self._state(execution, plan)
        owner = execution.headers.get(DUPLICATE_HEADER)
        if UNIQUE.of(execution.options) and owner and owner != execution.id:
            raise ReturnResult(None)  # a second instance queued while the first was
        opens = self._precheck(state)
        if opens is not None:
            raise Deferred(opens, "window")
        reply = state.early.answered if state.early is not None else None
        if reply is None:
            reply = self._check(state)
        state.checked = True
        admitted, reason, wait, redis_now = reply
        reason = _text(reason)
        if reason == "duplicate":
            raise ReturnResult(None)
        if not int(admitted):
            raise Deferred(time.time() + float(wait), reason)
        state.admitted_at = _text(redis_now)
        for limit, keys in zip(state.plan.limits, state.keys, strict=True):
            limit.admitted(state.admission, keys, execution.app.redis)

    def after_execute(self, execution: Execution, outcome: Outcome) -> None:
        state: _State | None = execution.state.get(self.name)
        if state is None:
            return
        plan, admission = state.plan, state.admission
        if not state.checked:
            early = state.early.answered if state.early is not None else None
            if early is not None and int(early[0]) and plan.scripts.refund is not None:
                refunds = [
                    limit.refund_args(admission, _text(early[3])) for limit in plan.scripts.limits
                ]
                execution.late(
                    plan.scripts.refund.text,
                    plan.scripts.key_list(self._script_keys(state)),
                    plan.scripts.arg_list("refund", execution.id, refunds),
                )
            return
        if state.admitted_at is None:
            return
        for limit, keys in zip(plan.limits, state.keys, strict=True):
            limit.finished(admission, keys)
        finish = plan.scripts.finish
        if finish is None:
            return
        args: list[dict[str, Value]] = []
        needed = False
        for limit in plan.scripts.limits:
            values = limit.finish_args(admission, outcome)
            needed = needed or values is not None
            args.append(dict(limit.FINISH_IDLE) if values is None else values)
        if needed:
            execution.late(
                finish.text,
                plan.scripts.key_list(self._script_keys(state)),
                plan.scripts.arg_list("finish", execution.id, args),
            )

    # -- helpers ------------------------------------------------------------------------------

    def _state(self, execution: Execution, plan: _TaskPlan) -> _State:
        limit_key = (
            plan.limit_key.render(execution.args, execution.kwargs) if plan.limit_key else ""
        )
        admission = Admission(
            task=execution.task,
            task_id=execution.id,
            scope=limit_scope(execution.name, limit_key),
            limit_key=limit_key,
            now=clock_for(execution.app)(),
            zone=plan.zone,
            args=execution.args,
            kwargs=execution.kwargs,
        )
        keys = [limit.keys(admission) for limit in plan.limits]
        state = _State(plan, admission, keys)
        execution.state[self.name] = state
        return state

    @staticmethod
    def _precheck(state: _State) -> float | None:
        for limit in state.plan.limits:
            opens = limit.precheck(state.admission)
            if opens is not None:
                return opens
        return None

    def _script_keys(self, state: _State) -> list[dict[str, str]]:
        return [
            keys for limit, keys in zip(state.plan.limits, state.keys, strict=True) if limit.KEYS
        ]

    def _check_call(self, state: _State) -> tuple[list[str], list[Value]]:
        scripts = state.plan.scripts
        values = [limit.check_args(state.admission) for limit in scripts.limits]
        return (
            scripts.key_list(self._script_keys(state)),
            scripts.arg_list("check", state.admission.task_id, values),
        )

    def _check(self, state: _State) -> list[Any]:
        app = state.admission.task.app
        keys, args = self._check_call(state)
        scope = state.admission.scope
        try:
            with app.redis.pipeline(transaction=False) as pipe:
                if scope not in self._registered:
                    described = {**state.plan.describe, "limit_key": state.admission.limit_key}
                    pipe.hset(REGISTRY, scope, json.dumps(described))
                state.plan.scripts.check.queue(pipe, keys, args)
                reply = pipe.execute()[-1]
        except Exception as exc:
            raise StoreUnavailable(f"flow control: coordination store unreachable: {exc}") from exc
        self._registered.add(scope)
        return list(reply)


def admitted_at(task: StalwartTask) -> float | None:
    """When flow control let the running execution of ``task`` start (Redis clock)."""
    execution = task.app.driver.current(str(task.request.id))
    state = execution.state.get(FlowControl.name) if execution is not None else None
    if not isinstance(state, _State) or state.admitted_at is None:
        return None
    return float(state.admitted_at)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
