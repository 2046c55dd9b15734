"""What happens when a task body (or a hook before it) raises: retry, or dead-letter.

:func:`handle_failure` is called by :class:`~stalwart.task.StalwartTask` with the
exception of the current execution. It never returns: it republishes the task and
raises Celery's ``Retry`` (so Celery records the RETRY state and ``task_retry``
fires as usual), or writes a dead letter and re-raises the exception (so Celery
records FAILURE as usual).

Celery's own control exceptions pass through untouched (``self.retry()``, ``Ignore``,
``Reject(requeue=True)``); ``Reject(requeue=False)`` is dead-lettered. A hook that
cannot reach the coordination store raises ``StoreUnavailable``: that is not the
task's fault, so the message is requeued instead of consuming a retry.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, NoReturn

from celery.exceptions import Ignore, Reject, Retry

from stalwart.deadletter.tables import DeadReason
from stalwart.deadletter.writer import FIRST_FAILURE_HEADER, DeadLetterDraft, write_dead_letter
from stalwart.errors import StoreUnavailable
from stalwart.events import EventKind, TaskEvent, append_event
from stalwart.reliability.retry import NO_RETRY, RetryPolicy, Verdict
from stalwart.reschedule import republish

if TYPE_CHECKING:
    from stalwart.task import StalwartTask

__all__ = ["DeadLettered", "dead_letter", "handle_failure"]

log = logging.getLogger("stalwart.retry")

_VERDICT_REASON = {
    Verdict.GIVE_UP: DeadReason.GIVE_UP,
    Verdict.EXHAUSTED: DeadReason.EXHAUSTED,
    Verdict.NOT_RETRYABLE: DeadReason.FAILED,
}


class DeadLettered(Reject):  # type: ignore[misc]
    """Rejects a message whose dead letter was already written (the poison cap)."""

    def __init__(self, reason: str, requeue: bool = False) -> None:
        # Same arguments as Reject, so it pickles back across the prefork pool.
        super().__init__(reason, requeue=False)


def handle_failure(task: StalwartTask, exc: Exception) -> NoReturn:
    """Retry the current request per its policy, or dead-letter it; always raises."""
    if task.request.is_eager or isinstance(exc, Retry | Ignore | DeadLettered):
        raise exc
    if isinstance(exc, Reject):
        if not exc.requeue:
            dead_letter(task, exc, DeadReason.REJECTED)
        raise exc
    if isinstance(exc, StoreUnavailable):
        log.warning("%s[%s]: %s; requeued", task.name, task.request.id, exc)
        raise Reject(str(exc), requeue=True) from exc
    policy: RetryPolicy = task.stalwart_options.retry or NO_RETRY
    retries = int(task.request.retries or 0)
    decision = policy.decide(exc, retries)
    if decision.verdict is not Verdict.RETRY:
        dead_letter(task, exc, _VERDICT_REASON[decision.verdict])
        raise exc
    _retry(task, exc, retries, decision.delay, policy)


def _retry(
    task: StalwartTask, exc: Exception, retries: int, delay: float, policy: RetryPolicy
) -> NoReturn:
    headers = dict(task.request.headers or {})
    first_failure = headers.get(FIRST_FAILURE_HEADER) or repr(time.time())
    try:
        republish(
            task,
            countdown=delay,
            retries=retries + 1,
            headers={FIRST_FAILURE_HEADER: first_failure},
        )
    except Exception as publish_error:
        # The broker is unreachable: keep the message (requeue, or left unacknowledged
        # until the visibility timeout) rather than acknowledge a task nobody will run.
        log.warning(
            "%s[%s]: retry not published (%r); requeued", task.name, task.request.id, publish_error
        )
        raise Reject(f"retry not published: {publish_error}", requeue=True) from exc
    event = TaskEvent(
        EventKind.RETRIED,
        str(task.request.id),
        str(task.name),
        fields={
            "attempt": retries + 1,
            "max_retries": policy.max_retries,
            "delay": round(delay, 3),
            "due": round(time.time() + delay, 3),
            "reason": f"{type(exc).__name__}: {exc}"[:500],
        },
    )
    try:
        append_event(task.app.redis, event, maxlen=task.app.settings.stream_maxlen)
    except Exception:
        log.warning("could not append retried event for %s", task.request.id, exc_info=True)
    raise Retry(exc=exc, when=delay) from exc


def dead_letter(task: StalwartTask, exc: BaseException, reason: DeadReason) -> None:
    """Write the current request to the dead-letter store (unless the task opted out).

    If the durable store cannot be written, the message is requeued (``Reject``) rather
    than acknowledged: a task is never dropped because its dead letter could not be kept.
    """
    attempts = int(task.request.retries or 0) + 1
    if not task.stalwart_options.dead_letter:
        log.error(
            "%s[%s] failed for good (%s); dead_letter=False", task.name, task.request.id, reason
        )
        return
    try:
        write_dead_letter(task.app, DeadLetterDraft.from_request(task, exc, reason, attempts))
    except Exception as store_error:
        log.exception("could not write the dead letter of %s[%s]", task.name, task.request.id)
        raise Reject(f"dead-letter store unavailable: {store_error}", requeue=True) from exc
