"""Operator actions: the one place the CLI and the console change things from.

Every action takes the acting user (``actor``: ``os:<login>`` on a terminal,
``console:<user>`` in a browser, ``token`` for an API client) and writes one row of
the audit log (:mod:`stalwart.audit`) with it, in the transaction of the change when
the change is in the durable store.

- tasks: :func:`revoke_task`, :func:`retry_now`;
- dead letters: :func:`replay_dead_letters`, :func:`discard_dead_letters` (the store
  audits them itself);
- breakers: :func:`reset_breaker`;
- schedules: :func:`add_schedule`, :func:`edit_schedule`, :func:`pause_schedule`,
  :func:`resume_schedule`, :func:`delete_schedule`, :func:`run_schedule_now`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from stalwart.audit import record_action
from stalwart.deadletter.store import Replayed
from stalwart.errors import ActionRefused, NotFound, ScheduleError, StalwartError
from stalwart.events import EventKind
from stalwart.history.query import get_task
from stalwart.limits.breaker import breaker_key
from stalwart.scheduler import store
from stalwart.scheduler.fire import Fire, publish
from stalwart.scheduler.model import Schedule, ScheduleSpec

if TYPE_CHECKING:
    from stalwart.app import Stalwart

__all__ = [
    "FINAL_STATES",
    "add_schedule",
    "delete_schedule",
    "discard_dead_letters",
    "edit_schedule",
    "pause_schedule",
    "replay_dead_letters",
    "reset_breaker",
    "resume_schedule",
    "retry_now",
    "revoke_task",
    "run_schedule_now",
]

FINAL_STATES = frozenset(
    {EventKind.SUCCEEDED.value, EventKind.FAILED.value, EventKind.REVOKED.value,
     EventKind.DEAD_LETTERED.value}
)  # fmt: skip


def _audit(app: Stalwart, actor: str, action: str, target: str, **details: Any) -> None:
    with app.engine.begin() as db:
        record_action(db, actor=actor, action=action, target=target, details=details)


# -- tasks ------------------------------------------------------------------------------


def revoke_task(
    app: Stalwart, task_id: str, *, actor: str, terminate: bool = False
) -> dict[str, Any]:
    """Revoke a queued, delayed, deferred or running task.

    Workers are told by broadcast (a queued message is dropped when delivered; with
    ``terminate`` a running body is stopped); a task waiting in the delay store is taken
    out at once and recorded as revoked (:class:`stalwart.compat.control.Control`).
    """
    try:
        state = get_task(app.engine, task_id).state
    except NotFound:
        state = None
    if state in FINAL_STATES:
        raise ActionRefused(f"task {task_id} already ended ({state}): nothing to revoke")
    waiting = app.delays.due_at(task_id) is not None
    app.control.revoke(task_id, terminate=terminate)
    _audit(app, actor, "task.revoke", task_id, state=state, waiting=waiting, terminate=terminate)
    return {"task_id": task_id, "revoked": True, "removed_from_delay_store": waiting}


def retry_now(app: Stalwart, task_id: str, *, actor: str) -> dict[str, Any]:
    """Make a task waiting in the delay store (a retry or a deferral) due now."""
    if not app.delays.due_now(task_id):
        raise ActionRefused(f"task {task_id} is not waiting for a retry or a deferral")
    _audit(app, actor, "task.retry_now", task_id)
    return {"task_id": task_id, "due_now": True}


def replay_dead_letters(
    app: Stalwart,
    refs: Sequence[int | str],
    *,
    actor: str,
    force: bool = False,
    on_progress: Callable[[int], None] | None = None,
) -> list[Replayed]:
    return app.dead_letters.replay(refs, actor=actor, force=force, on_progress=on_progress)


def discard_dead_letters(
    app: Stalwart,
    refs: Sequence[int | str],
    *,
    actor: str,
    on_progress: Callable[[int], None] | None = None,
) -> int:
    return app.dead_letters.discard(refs, actor=actor, on_progress=on_progress)


# -- breakers -----------------------------------------------------------------------------


def reset_breaker(app: Stalwart, name: str, *, actor: str) -> dict[str, Any]:
    """Close breaker ``name`` now (its failure count starts again from zero)."""
    existed = int(app.redis.delete(breaker_key(name)))
    if not existed:
        raise NotFound(f"no breaker named {name!r} has state to reset (see 'stalwart limits')")
    _audit(app, actor, "breaker.reset", name, at=time.time())
    return {"breaker": name, "state": "closed"}


# -- schedules ----------------------------------------------------------------------------


def _known_tasks(app: Stalwart) -> set[str]:
    app.loader.import_default_modules()
    return set(app.tasks.keys())


def check_schedule_arguments(app: Stalwart, spec: ScheduleSpec) -> None:
    """Refuse a schedule whose arguments do not fit its task's signature (every slot
    would otherwise be dead-lettered with a TypeError)."""
    registered = app.tasks.get(spec.task) if spec.task in _known_tasks(app) else None
    if registered is not None:
        store.check_arguments(spec.task, registered.run, list(spec.args), dict(spec.kwargs))


def add_schedule(app: Stalwart, spec: ScheduleSpec, *, actor: str) -> Schedule:
    check_schedule_arguments(app, spec)
    return store.add_schedule(app.engine, spec, actor=actor, known_tasks=_known_tasks(app))


def edit_schedule(app: Stalwart, spec: ScheduleSpec, *, actor: str) -> Schedule:
    check_schedule_arguments(app, spec)
    return store.update_schedule(app.engine, spec, actor=actor, known_tasks=_known_tasks(app))


def pause_schedule(app: Stalwart, name: str, *, actor: str) -> Schedule:
    return store.set_enabled(app.engine, name, False, actor=actor)


def resume_schedule(app: Stalwart, name: str, *, actor: str) -> Schedule:
    return store.set_enabled(app.engine, name, True, actor=actor)


def delete_schedule(app: Stalwart, name: str, *, actor: str) -> None:
    store.remove_schedule(app.engine, name, actor=actor)


def run_schedule_now(app: Stalwart, name: str, *, actor: str) -> dict[str, str]:
    """Publish one run now (slot id ``NAME@manual-<time>``), whether a beat runs or not."""
    schedule = store.get_schedule(app.engine, name)
    fire = Fire.manual(schedule, datetime.now(UTC))
    try:
        task_id = publish(app, fire)
    except StalwartError:
        raise
    except Exception as exc:
        raise ScheduleError(f"publishing {name!r} failed: {type(exc).__name__}: {exc}") from None
    store.record_run_now(app.engine, name, actor=actor, task_id=task_id, slot=fire.slot_id)
    return {"schedule": name, "task": fire.task, "task_id": task_id, "slot": fire.slot_id}
