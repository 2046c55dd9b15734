"""The flow-control hook: decides, before a task body runs, whether it may run now.

One script per execution (``lua/check.lua``) checks every limit the task has (429
pause, breaker, unique, concurrency, quota, throttle) and consumes them only if all
pass; the window is pure calendar arithmetic. For a first delivery the script rides
in Celery's ``STARTED`` write (:meth:`FlowHook.prepare`, :mod:`stalwart.results`):
no round trip of its own. A task that may not run now raises
:class:`~stalwart.hooks.Deferred` with the earliest time worth trying again and the
reason; the task class turns that into a reschedule that consumes no retry.

After the body, ``lua/finish.lua`` gives back what the run held (concurrency slot,
unique lock) and reports to the breaker; tasks with only throttle/quota/window skip
it, and it rides along with the next check of the same process when one comes within
10 ms (:mod:`.finisher`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import redis
from celery.exceptions import Ignore, Reject, Retry

from stalwart.flow.clock import clock_for
from stalwart.flow.concurrency import LeaseKeeper
from stalwart.flow.finisher import Finisher
from stalwart.flow.keys import (
    NONE,
    REGISTRY,
    breaker_key,
    concurrency_key,
    limit_scope,
    pause_key,
    quota_key,
    throttle_key,
)
from stalwart.flow.retry_after import RetryAfter
from stalwart.flow.scripts import execute, queue, script, source
from stalwart.flow.unique import DUPLICATE_HEADER, UNIQUE_TTL, unique_digest
from stalwart.hooks import Deferred, Outcome, ReturnResult, TaskCall, TaskHook
from stalwart.results import Rider, can_carry, carry, started_write_follows, withdraw

if TYPE_CHECKING:
    from stalwart.app import Stalwart
    from stalwart.options import TaskOptions

__all__ = ["ADMITTED_AT", "FlowHook"]

# Attribute of ``task.request``: when flow control let this execution start (Redis clock).
ADMITTED_AT = "stalwart_admitted_at"


@dataclass
class _Plan:
    """One execution's check: the keys and arguments of ``lua/check.lua``."""

    scope: str
    limit_key: str
    lock: str
    keys: list[str]
    args: list[str | int | float]


@dataclass(eq=False)
class _EarlyCheck:
    """The check sent with Celery's ``STARTED`` write (see :meth:`FlowHook.prepare`)."""

    plan: _Plan
    rider: Rider
    used: bool = False


@dataclass
class _Held:
    """What an admitted execution holds until it ends."""

    scope: str
    unique: str
    concurrency: bool


class FlowHook(TaskHook):
    """Throttle, quota, window, concurrency, unique and breaker, for every worker."""

    def __init__(self, app: Stalwart) -> None:
        self.app = app
        self._client: redis.Redis | None = None
        self._registered: set[str] = set()
        self._leases: LeaseKeeper | None = None
        self._finisher: Finisher | None = None

    @property
    def client(self) -> redis.Redis:
        if self._client is None:
            self._client = self.app.redis
        return self._client

    def _plan(self, call: TaskCall) -> _Plan:
        """The check of this execution; raises if it must not run or be checked now."""
        options: TaskOptions = call.task.stalwart_options
        request = call.task.request
        owner = getattr(request, DUPLICATE_HEADER, None)
        if options.unique and owner and owner != call.id:
            raise ReturnResult(None)  # a second instance queued while the first was
        clock = clock_for(self.app)
        now = clock()
        zone_name = self.app.settings.timezone
        window = options.window
        if window is not None:
            zone = window.zone_or(zone_name)
            opens = window.next_open(now, zone)
            if opens is not None:
                raise Deferred(time.time() + (opens - now), "window")
        limit_key = options.limit_key.render(call.args, call.kwargs) if options.limit_key else ""
        scope = limit_scope(call.name, limit_key)
        lock = unique_digest(call.task, call.args, call.kwargs) if options.unique else NONE
        quota_limit, quota_left, quota_counter = 0, 0.0, NONE
        if options.quota is not None:
            zone = window.zone_or(zone_name) if window is not None else _zone(zone_name)
            period = options.quota.period(now, zone)
            quota_limit, quota_left = options.quota.limit, max(0.0, period.ends_at - now)
            quota_counter = quota_key(scope, period.label)
        throttle, concurrency, breaker = options.throttle, options.concurrency, options.breaker
        keys = [
            pause_key(scope),
            breaker_key(breaker.name) if breaker else NONE,
            lock,
            concurrency_key(scope) if concurrency else NONE,
            quota_counter,
            throttle_key(scope) if throttle else NONE,
            throttle_key(scope) + ":next" if throttle else NONE,
        ]
        args: list[str | int | float] = [
            call.id,
            UNIQUE_TTL if options.unique else 0,
            concurrency.limit if concurrency else 0,
            concurrency.lease if concurrency else 0,
            quota_limit,
            repr(quota_left),
            throttle.limit if throttle else 0,
            throttle.period if throttle else 0,
            breaker.reset_after if breaker else 0,
            breaker.probe_lease if breaker else 0,
        ]
        return _Plan(scope, limit_key, lock, keys, args)

    def prepare(self, call: TaskCall) -> None:
        """Send the check with Celery's ``STARTED`` write: no round trip of its own.

        Only for a first delivery (the poison cap, the one hook before this one, acts
        on redeliveries only) of a task without ``unique`` or ``breaker`` (their checks
        keep their own round trip), in a scope this process has listed already.
        """
        options: TaskOptions = call.task.stalwart_options
        request = call.task.request
        if not options.has_flow_control or options.unique or options.breaker:
            return
        if (request.delivery_info or {}).get("redelivered") or not can_carry(self.app):
            return
        if not started_write_follows(call.task):
            return  # nothing to ride: earlier finishes must not wait for this body
        try:
            plan = self._plan(call)
        except (Deferred, ReturnResult):
            return  # before_execute decides again
        if plan.scope not in self._registered:
            return
        finished = self._finisher.take() if self._finisher is not None else []
        for keys, args in finished:  # before the check: a slot given back counts now
            carry(self.app, Rider(source("finish"), keys, list(args)))
        rider = Rider(source("check"), plan.keys, list(plan.args), required=False)
        if carry(self.app, rider):
            request.stalwart_early_check = _EarlyCheck(plan, rider)

    def before_execute(self, call: TaskCall) -> None:
        options: TaskOptions = call.task.stalwart_options
        if not options.has_flow_control:
            return
        request = call.task.request
        early: _EarlyCheck | None = getattr(request, "stalwart_early_check", None)
        plan = early.plan if early is not None else self._plan(call)  # planned once
        reply = self._early_reply(early)
        if reply is None:
            reply = self._check(call, plan, options)
        admitted, reason, wait, redis_now = reply
        reason = _text(reason)
        if reason == "duplicate":
            raise ReturnResult(None)
        if not int(admitted):
            raise Deferred(time.time() + float(wait), reason)
        setattr(request, ADMITTED_AT, float(redis_now))
        concurrency = options.concurrency
        if concurrency:
            self._keeper().hold(plan.keys[3], call.id, concurrency.lease)
        unique = plan.lock if options.unique else ""
        call.state["flow"] = _Held(plan.scope, unique, bool(concurrency))

    @staticmethod
    def _early_reply(early: _EarlyCheck | None) -> list[Any] | None:
        if early is None:
            return None
        early.used = True
        withdraw(early.rider)  # not sent (no STARTED write): never send it later
        return early.rider.answered

    def _check(self, call: TaskCall, plan: _Plan, options: TaskOptions) -> list[Any]:
        check = script(self.client, "check")
        finished = self._finisher.take() if self._finisher is not None else []
        scope = plan.scope
        if scope in self._registered and not finished:
            return list(check(keys=plan.keys, args=plan.args))

        def build(pipe: Any) -> None:  # earlier executions' finishes ride along
            if finished:
                self._finish().queue(pipe, finished)
            if scope not in self._registered:  # a new scope is listed
                zone_name = self.app.settings.timezone
                described = _describe(call.name, plan.limit_key, options, zone_name)
                pipe.hset(REGISTRY, scope, json.dumps(described))
            queue(pipe, self.client, "check", plan.keys, plan.args)

        reply = execute(self.client, build)[-1]
        self._registered.add(scope)
        return list(reply)

    def finalize(self, call: TaskCall) -> None:
        """Give back a slot :meth:`prepare` took if the call ended before this hook."""
        early: _EarlyCheck | None = getattr(call.task.request, "stalwart_early_check", None)
        if early is None or early.used or early.rider.answered is None:
            return
        keys = early.plan.keys
        if int(early.rider.answered[0]) and keys[3] != NONE:
            # Throttle and quota units are spent at admission, like a run; a slot is not.
            finish = [keys[3], NONE, NONE, keys[0]]
            script(self.client, "finish")(keys=finish, args=[call.id, 1, 0, "", 0, 0, "0"])

    def after_execute(self, call: TaskCall, outcome: Outcome) -> None:
        options: TaskOptions = call.task.stalwart_options
        held: _Held | None = call.state.get("flow")
        if held is None:
            return
        pause = 0.0
        if isinstance(outcome.control, RetryAfter):
            pause = outcome.control.seconds
        waiting = isinstance(outcome.control, Deferred) or _is_retry(outcome.exc)
        breaker = options.breaker
        result = ""
        if breaker is not None and outcome.control is None:
            result = "fail" if _counts_as_failure(outcome.exc) else "ok"
        release_unique = bool(held.unique) and not waiting
        if not (held.concurrency or release_unique or result or pause):
            return
        if held.concurrency:
            self._keeper().release(concurrency_key(held.scope), call.id)
        finish: tuple[list[str], list[Any]] = (
            [
                concurrency_key(held.scope) if held.concurrency else NONE,
                held.unique or NONE,
                breaker_key(breaker.name) if breaker else NONE,
                pause_key(held.scope),
            ],
            [
                call.id,
                int(held.concurrency),
                int(release_unique),
                result,
                breaker.failures if breaker else 0,
                breaker.reset_after if breaker else 0,
                repr(pause),
            ],
        )
        if release_unique:
            # Sent now: a unique lock left pending by a stopping worker would block
            # its arguments until the lock's TTL.
            script(self.client, "finish")(keys=finish[0], args=finish[1])
        else:
            self._finish().add(*finish)

    def _finish(self) -> Finisher:
        if self._finisher is None:
            self._finisher = Finisher(self.client)
        return self._finisher

    def _keeper(self) -> LeaseKeeper:
        if self._leases is None:
            self._leases = LeaseKeeper(self.client)
        return self._leases


def _describe(task: str, limit_key: str, options: TaskOptions, zone: str) -> dict[str, Any]:
    if options.window is not None and options.window.tz is not None:
        zone = options.window.tz
    return {
        "zone": zone,
        "task": task,
        "limit_key": limit_key,
        "throttle": str(options.throttle) if options.throttle else None,
        "quota": str(options.quota) if options.quota else None,
        "concurrency": options.concurrency.limit if options.concurrency else None,
        "breaker": options.breaker.name if options.breaker else None,
        "window": repr(options.window) if options.window else None,
    }


def _is_retry(exc: BaseException | None) -> bool:
    return isinstance(exc, Retry)


def _counts_as_failure(exc: BaseException | None) -> bool:
    return exc is not None and not isinstance(exc, Ignore | Reject)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)
