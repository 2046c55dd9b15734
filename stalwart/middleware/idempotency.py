"""Idempotency: at most one successful run per key within its TTL.

The key comes from the task's ``idempotency_key`` option (rendered from the call's
arguments) or, per call, from the message header ``stalwart_idempotency_key`` (TTL from
``stalwart_idempotency_ttl``), which is how the scheduler makes each slot run once.

Before the body, one Lua script looks at two keys (an early rider of Celery's own
``STARTED`` write, :mod:`stalwart.middleware.riders`, so it costs no round trip of its
own):

- ``stalwart:idem:<key>:done`` holds the first successful run's result (JSON) for the
  TTL: a later duplicate ends at once with that result, without running;
- ``stalwart:idem:<key>:lease`` names the message running the key now (task id and
  delivery tag). A duplicate (another task id, or another message with the same task
  id) is *deferred* (no retry consumed, no worker slot held) and looks again shortly;
  the same message (a redelivery after its worker died) takes the lease over. The
  lease expires after the task's hard time limit plus a margin, so a key is never stuck.

After the execution a second script (a late rider, so in the same pipeline as Celery's
result write and before the message is acknowledged) stores a success's result and
drops the lease; after anything else only the lease is dropped, so a retry may run.

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
from stalwart.errors import StalwartError, StoreUnavailable, TaskOptionError
from stalwart.keyspec import KeySpec
from stalwart.lua import Lua
from stalwart.middleware.base import Middleware, OptionTarget, TaskOption
from stalwart.middleware.call import Execution
from stalwart.middleware.controls import Deferred, Outcome, ReturnResult
from stalwart.middleware.riders import Rider

if TYPE_CHECKING:
    from stalwart.options import TaskOptions
    from stalwart.task import StalwartTask

__all__ = [
    "IDEMPOTENCY_KEY",
    "IDEMPOTENCY_TTL",
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
DEFAULT_TTL = 86_400
_CLAIMED, _DONE, _BUSY = 0, 1, 2

# KEYS: done, lease. ARGV: task id, lease ms.
# -> {1, result} done | {0, ""} claimed | {2, pttl} held by another task id
_CLAIM = Lua("""
local done = redis.call('GET', KEYS[1])
if done then return {1, done} end
local holder = redis.call('GET', KEYS[2])
if (not holder) or holder == ARGV[1] then
  redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
  return {0, ''}
end
return {2, tostring(redis.call('PTTL', KEYS[2]))}
""")
# KEYS: done, lease. ARGV: task id, result JSON ('' = no result: only release), ttl s.
_FINISH = Lua("""
if ARGV[2] ~= '' then redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3], 'NX') end
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
return 1
""")


def _parse_key(value: Any, target: OptionTarget) -> KeySpec | None:
    if value is None:
        return None
    return KeySpec.parse("idempotency_key", value, target.fun, bound=target.bound)


def _parse_ttl(value: Any, target: OptionTarget) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise TaskOptionError(
            f"idempotency_ttl must be a positive number of seconds, not {value!r}"
        )
    return value


IDEMPOTENCY_KEY: TaskOption[KeySpec | None] = TaskOption(
    "idempotency_key",
    parse=_parse_key,
    default=None,
    doc="At most one successful run per key, e.g. 'sms:{campaign_id}:{contact_id}'.",
)
IDEMPOTENCY_TTL: TaskOption[int] = TaskOption(
    "idempotency_ttl",
    parse=_parse_ttl,
    default=DEFAULT_TTL,
    doc="How long (seconds) a key's first result is kept and duplicates get it.",
)


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

    @property
    def keys(self) -> list[str]:
        return [self.done_key, self.lease_key]


@dataclass(eq=False)
class _State:
    claim: Claim
    early: Rider | None = None
    held: bool = False  # this execution holds the lease


def requested_claim(execution: Execution) -> Claim | None:
    """The claim an execution asks for: its message header, else the task's option."""
    headers = execution.request.headers or {}
    header_key = headers.get(KEY_HEADER)
    options = execution.options
    if header_key:
        ttl = headers.get(TTL_HEADER) or IDEMPOTENCY_TTL.of(options)
        return Claim(str(header_key), int(ttl))
    spec = IDEMPOTENCY_KEY.of(options)
    if spec is not None:
        return Claim(spec.render(execution.args, execution.kwargs), IDEMPOTENCY_TTL.of(options))
    return None


def _holder(execution: Execution) -> str:
    """Who holds the lease: this message (task id and delivery tag, so a redelivery of it
    after a crash takes the lease over, and a second message published with the same
    task id, e.g. by an at-least-once relay, waits for the first like any duplicate)."""
    properties = getattr(execution.request, "properties", None) or {}
    tag = properties.get("delivery_tag")
    return f"{execution.id}/{tag}" if tag else execution.id


def _lease_ms(execution: Execution) -> int:
    task, app = execution.task, execution.app
    hard = (execution.request.timelimit or (None, None))[0] or task.time_limit
    hard = hard or app.conf.task_time_limit or app.settings.task_time_limit
    return int((float(hard) + LEASE_MARGIN) * 1000)


class Idempotency(Middleware):
    """Runs a key at most once successfully; duplicates defer or return the first result."""

    name = "idempotency"
    eager = True  # honoured in eager mode too (it then needs the coordination store)
    options = (IDEMPOTENCY_KEY, IDEMPOTENCY_TTL)

    def check_options(self, options: TaskOptions, target: OptionTarget) -> None:
        if "idempotency_ttl" in options and IDEMPOTENCY_KEY.of(options) is None:
            raise TaskOptionError("idempotency_ttl needs idempotency_key")

    def prepare(self, execution: Execution) -> None:
        """Claim in Celery's ``STARTED`` write (an early rider): no round trip of its own."""
        claim = requested_claim(execution)
        if claim is None:
            return
        state = execution.state[self.name] = _State(claim)
        if execution.carries and execution.started_write:
            state.early = execution.early(
                _CLAIM.text, claim.keys, [_holder(execution), _lease_ms(execution)]
            )

    def before_execute(self, execution: Execution) -> None:
        state: _State | None = execution.state.get(self.name)
        if state is None:
            claim = requested_claim(execution)
            if claim is None:
                return
            state = execution.state[self.name] = _State(claim)
        status, value = self._claim(execution, state)
        if status == _DONE:
            raise ReturnResult(loads(as_text(value)))  # type: ignore[no-untyped-call]
        if status == _BUSY:
            wait = min(1.0, max(0.05, int(value) / 1000)) * random.uniform(0.75, 1.25)
            raise Deferred(time.time() + wait, f"idempotency key {state.claim.key!r} is running")
        state.held = True

    def _claim(self, execution: Execution, state: _State) -> tuple[int, Any]:
        reply = state.early.answered if state.early is not None else None
        if reply is None:
            try:
                reply = _CLAIM.run(
                    execution.app.redis,
                    state.claim.keys,
                    [_holder(execution), _lease_ms(execution)],
                )
            except redis.RedisError as exc:
                raise StoreUnavailable(
                    f"idempotency: coordination store unreachable: {exc}"
                ) from exc
        return int(reply[0]), reply[1]

    def after_execute(self, execution: Execution, outcome: Outcome) -> None:
        state: _State | None = execution.state.get(self.name)
        if state is None:
            return
        early = state.early.answered if state.early is not None else None
        took_early = early is not None and int(early[0]) == _CLAIMED
        if not (state.held or took_early):
            return  # a duplicate: the lease is someone else's
        result = ""
        if state.held and outcome.succeeded:
            try:
                result = dumps(outcome.result)  # type: ignore[no-untyped-call]
            except (TypeError, ValueError):
                log.warning(
                    "result of %s[%s] is not JSON; duplicates get null",
                    execution.name,
                    execution.id,
                )
                result = "null"
        # Rides in Celery's result write: stored before the message is acknowledged.
        holder = _holder(execution)
        execution.late(_FINISH.text, state.claim.keys, [holder, result, state.claim.ttl])


def current_claim(task: StalwartTask) -> Claim | None:
    """The idempotency claim the running execution of ``task`` holds, if any."""
    execution = task.app.driver.current(str(task.request.id))
    state = execution.state.get(Idempotency.name) if execution is not None else None
    return state.claim if isinstance(state, _State) and state.held else None


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
