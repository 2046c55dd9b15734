"""Idempotency: at most one successful run per key within its TTL.

The key comes from the task's ``idempotency_key`` option (rendered from the call's
arguments) or, per call, from the message header ``stalwart_idempotency_key`` (TTL from
``stalwart_idempotency_ttl``), which is how the scheduler makes each slot run once.

Before the body, one Lua script looks at two keys (it rides in Celery's own
``STARTED`` write, :mod:`stalwart.results`, so it costs no round trip of its own):

- ``stalwart:idem:<key>:done`` holds the first successful run's result (JSON) for the
  TTL: a later duplicate ends at once with that result, without running;
- ``stalwart:idem:<key>:lease`` names the task id running the key now. A duplicate
  with another task id is *deferred* (no retry consumed, no worker slot held) and
  looks again shortly; the same task id (a redelivery after its worker died) takes
  the lease over. The lease expires after the task's hard time limit plus a margin,
  so a key is never stuck.

After a success a second script stores the result and drops the lease, in the
same pipeline as Celery's result write (so before the message is acknowledged);
after a failure the lease is dropped at once so a retry may run.

Side effects the body makes *between* its start and the result being stored would be
repeated if the worker died in between; effects written through
:func:`idempotent_pipeline` commit atomically with a marker and so happen once.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import redis
from kombu.utils.json import dumps, loads

from stalwart.coordination import as_text, key
from stalwart.errors import StalwartError, StoreUnavailable
from stalwart.hooks import Deferred, Outcome, ReturnResult, TaskCall, TaskHook
from stalwart.results import Rider, carry, started_write_follows, withdraw

if TYPE_CHECKING:
    from stalwart.app import Stalwart
    from stalwart.task import StalwartTask

__all__ = [
    "KEY_HEADER",
    "TTL_HEADER",
    "Claim",
    "Idempotency",
    "current_claim",
    "idempotent_pipeline",
]

log = logging.getLogger("stalwart.idempotency")

KEY_HEADER = "stalwart_idempotency_key"
TTL_HEADER = "stalwart_idempotency_ttl"
LEASE_MARGIN = 60
_STATE = "idempotency.claim"
_CLAIMED, _DONE, _BUSY = 0, 1, 2

# KEYS: done, lease. ARGV: task id, lease ms.
# -> {1, result} done | {0, ""} claimed | {2, pttl} held by another task id
_CLAIM = """
local done = redis.call('GET', KEYS[1])
if done then return {1, done} end
local holder = redis.call('GET', KEYS[2])
if (not holder) or holder == ARGV[1] then
  redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
  return {0, ''}
end
return {2, tostring(redis.call('PTTL', KEYS[2]))}
"""
# KEYS: done, lease. ARGV: task id, result JSON ('' = failed: only release), ttl s.
_FINISH = """
if ARGV[2] ~= '' then redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3], 'NX') end
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
return 1
"""


@dataclass(frozen=True)
class Claim:
    """This execution holds ``key`` (the rendered idempotency key) for ``ttl`` seconds."""

    key: str
    ttl: int

    @property
    def done_key(self) -> str:
        return key("idem", self.key, "done")

    @property
    def lease_key(self) -> str:
        return key("idem", self.key, "lease")

    @property
    def effects_key(self) -> str:
        return key("idem", self.key, "effects")


def _requested(task: StalwartTask, args: Any, kwargs: Any) -> Claim | None:
    options = task.stalwart_options
    headers = task.request.headers or {}
    header_key = headers.get(KEY_HEADER)
    if header_key:
        ttl = headers.get(TTL_HEADER) or options.idempotency_ttl
        return Claim(str(header_key), int(ttl))
    if options.idempotency_key is not None:
        return Claim(options.idempotency_key.render(args, kwargs), options.idempotency_ttl)
    return None


def _lease_ms(task: StalwartTask, app: Stalwart) -> int:
    hard = (task.request.timelimit or (None, None))[0] or task.time_limit
    hard = hard or app.conf.task_time_limit or app.settings.task_time_limit
    return int((float(hard) + LEASE_MARGIN) * 1000)


@dataclass(eq=False)
class _EarlyClaim:
    """The claim sent with Celery's ``STARTED`` write (see :meth:`Idempotency.prepare`)."""

    claim: Claim
    rider: Rider
    used: bool = False


class Idempotency(TaskHook):
    """Runs a key at most once successfully; duplicates defer or return the first result."""

    def __init__(self, app: Stalwart) -> None:
        self.app = app
        self._claim = app.redis.register_script(_CLAIM)
        self._finish = app.redis.register_script(_FINISH)

    def before_execute(self, call: TaskCall) -> None:
        early: _EarlyClaim | None = getattr(call.task.request, "stalwart_early_claim", None)
        claim = early.claim if early is not None else _requested(call.task, call.args, call.kwargs)
        if claim is None:
            return
        status, value = self._claim_reply(call, claim, early)
        if status == _DONE:
            raise ReturnResult(loads(as_text(value)))  # type: ignore[no-untyped-call]
        if status == _BUSY:
            wait = min(1.0, max(0.05, int(value) / 1000)) * random.uniform(0.75, 1.25)
            raise Deferred(time.time() + wait, f"idempotency key {claim.key!r} is running")
        call.state[_STATE] = claim
        call.task.request.stalwart_claim = claim

    def prepare(self, call: TaskCall) -> None:
        """Send the claim with Celery's ``STARTED`` write: no round trip of its own.

        :meth:`before_execute` reads the reply. Without such a write
        (``task_track_started`` off) the rider is withdrawn and the hook claims itself.
        """
        claim = _requested(call.task, call.args, call.kwargs)
        if claim is None or not started_write_follows(call.task):
            return
        keys = [claim.done_key, claim.lease_key]
        rider = Rider(_CLAIM, keys, [call.id, _lease_ms(call.task, self.app)], required=False)
        if carry(self.app, rider):
            call.task.request.stalwart_early_claim = _EarlyClaim(claim, rider)

    def finalize(self, call: TaskCall) -> None:
        """Free a lease taken by :meth:`prepare` if an outer hook ended the call first."""
        early: _EarlyClaim | None = getattr(call.task.request, "stalwart_early_claim", None)
        if early is None or early.used or early.rider.answered is None:
            return
        if int(early.rider.answered[0]) == _CLAIMED:
            claim = early.claim
            self._finish(keys=[claim.done_key, claim.lease_key], args=[call.id, "", claim.ttl])

    def _claim_reply(
        self, call: TaskCall, claim: Claim, early: _EarlyClaim | None
    ) -> tuple[int, Any]:
        if early is not None:
            early.used = True
            withdraw(early.rider)  # not sent (no STARTED write): never send it later
            reply = early.rider.answered
            if reply is not None:
                return int(reply[0]), reply[1]
        try:
            status, value = self._claim(
                keys=[claim.done_key, claim.lease_key],
                args=[call.id, _lease_ms(call.task, self.app)],
            )
        except redis.RedisError as exc:
            raise StoreUnavailable(f"idempotency: coordination store unreachable: {exc}") from exc
        return int(status), value

    def after_execute(self, call: TaskCall, outcome: Outcome) -> None:
        claim: Claim | None = call.state.get(_STATE)
        if claim is None:
            return
        result = ""
        if outcome.succeeded:
            try:
                result = dumps(outcome.result)  # type: ignore[no-untyped-call]
            except (TypeError, ValueError):
                log.warning("result of %s[%s] is not JSON; duplicates get null", call.name, call.id)
                result = "null"
        keys = [claim.done_key, claim.lease_key]
        args: list[str | int] = [call.id, result, claim.ttl]
        # A success's result is stored in the same round trip as Celery's own result
        # (before the message is acknowledged); a failure releases the lease at once.
        if not (outcome.succeeded and carry(self.app, Rider(_FINISH, keys, args))):
            self._finish(keys=keys, args=args)


def current_claim(task: StalwartTask) -> Claim | None:
    """The idempotency claim of the task's current execution, if it holds one."""
    claim = getattr(task.request, "stalwart_claim", None)
    return claim if isinstance(claim, Claim) else None


@contextmanager
def idempotent_pipeline(task: StalwartTask) -> Iterator[Any]:
    """A Redis transaction whose commands are applied at most once per idempotency key.

    The commands queued in the ``with`` block are committed (MULTI/EXEC) together with a
    marker key; if the marker exists (an earlier run of this key, killed after its
    effects but before its result was stored, already committed them), they are dropped.
    """
    claim = current_claim(task)
    if claim is None:
        raise StalwartError(
            f"{task.name}: idempotent_pipeline() needs an idempotency key on the call "
            "(the idempotency_key option or the stalwart_idempotency_key header)"
        )
    with task.app.redis.pipeline(transaction=True) as pipe:
        pipe.watch(claim.effects_key)  # type: ignore[no-untyped-call]
        applied = bool(pipe.exists(claim.effects_key))
        pipe.multi()
        yield pipe
        if applied:
            log.info(
                "%s[%s]: effects of key %r already applied", task.name, task.request.id, claim.key
            )
            return
        pipe.set(claim.effects_key, task.request.id, ex=claim.ttl)
        try:
            pipe.execute()
        except redis.WatchError:
            log.info(
                "%s[%s]: effects of key %r applied concurrently",
                task.name,
                task.request.id,
                claim.key,
            )
