"""Applying an execution's outcome, and telling Celery about it.

The pipeline decides how an execution ends (:class:`~.controls.Outcome`); here that
decision is carried out, in the worker, before anyone acknowledges the message:

- ``RETRIED`` (a retry policy) and ``DEFERRED``: the message is published again, due at
  ``until`` (:func:`stalwart.delays.republish.republish`: a short wait rides on a broker
  ETA, a long one waits in the delay store), with the retry count one up or unchanged;
- ``DEAD_LETTERED``: the dead letter is written (unless the task has
  ``dead_letter=False``: then the outcome is ``FAILED``).

If that cannot be done (the broker or the database is down) the outcome becomes
``REQUEUED``: the message goes back to its queue rather than being acknowledged with
its fate unrecorded. :func:`to_celery` then returns the result or raises what Celery
expects (``Retry`` so it records RETRY, ``Ignore`` for a deferral, ``Reject``...).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any, NoReturn

from celery.exceptions import Ignore, Reject, Retry

from stalwart.compat.backend import ignores_result
from stalwart.errors import StalwartError
from stalwart.middleware.controls import DEFERRED_STATE, Outcome, OutcomeKind

if TYPE_CHECKING:
    from stalwart.middleware.call import Execution

__all__ = ["EagerRetry", "apply_outcome", "to_celery"]

log = logging.getLogger("stalwart.middleware")

# Dead-letter reasons whose message is rejected rather than failed (Celery records
# REJECTED, and the body did not run or asked to be rejected).
_REJECTING = frozenset({"poison", "rejected"})


def apply_outcome(execution: Execution, outcome: Outcome) -> Outcome:
    """Carry out ``outcome``; returns it, or what it became (``FAILED``, ``REQUEUED``)."""
    if execution.eager:
        return _eager(execution, outcome)
    if outcome.kind is OutcomeKind.RETRIED and not isinstance(outcome.exc, Retry):
        return _republish(execution, outcome, retries=execution.retries + 1)
    if outcome.kind is OutcomeKind.DEFERRED:
        return _republish(execution, outcome, retries=execution.retries)
    if outcome.kind is OutcomeKind.DEAD_LETTERED:
        return _dead_letter(execution, outcome)
    return outcome


def _eager(execution: Execution, outcome: Outcome) -> Outcome:
    if outcome.kind is OutcomeKind.DEAD_LETTERED:
        outcome.kind = OutcomeKind.FAILED  # eager mode stores nothing
    elif outcome.kind is OutcomeKind.DEFERRED:
        outcome.kind = OutcomeKind.FAILED
        outcome.exc = StalwartError(
            f"{execution.name}: deferred ({outcome.reason}) under eager mode, where "
            "nothing can wait; see docs/RELIABILITY.md, 'Eager mode (unit tests)'"
        )
    return outcome


def _republish(execution: Execution, outcome: Outcome, *, retries: int) -> Outcome:
    from stalwart.deadletter.record import FIRST_FAILURE_HEADER
    from stalwart.delays.republish import republish

    until = outcome.until if outcome.until is not None else time.time()
    headers: dict[str, Any] = {}
    if outcome.kind is OutcomeKind.RETRIED:
        first = execution.headers.get(FIRST_FAILURE_HEADER) or repr(time.time())
        headers[FIRST_FAILURE_HEADER] = first
    try:
        republish(execution.task, countdown=until - time.time(), retries=retries, headers=headers)
    except Exception as exc:
        # The broker is unreachable: keep the message (requeued, or left unacknowledged
        # until the visibility timeout) rather than acknowledge a task nobody will run.
        log.warning("%s[%s]: not republished (%r); requeued", execution.name, execution.id, exc)
        return Outcome(OutcomeKind.REQUEUED, exc=exc, ran=outcome.ran)
    return outcome


def _dead_letter(execution: Execution, outcome: Outcome) -> Outcome:
    from stalwart.deadletter.record import DeadLetter
    from stalwart.deadletter.writer import write_dead_letter
    from stalwart.middleware.retries import DEAD_LETTER

    exc = outcome.exc if outcome.exc is not None else RuntimeError("dead-lettered")
    if not DEAD_LETTER.of(execution.options):
        log.error(
            "%s[%s] failed for good (%s); dead_letter=False",
            execution.name,
            execution.id,
            outcome.reason,
        )
        outcome.kind = OutcomeKind.FAILED
        return outcome
    attempts = outcome.attempt or execution.retries + 1
    try:
        letter = DeadLetter.from_request(execution.task, exc, outcome.reason, attempts)
        write_dead_letter(execution.app, letter)
    except Exception as store_error:
        log.exception("could not write the dead letter of %s[%s]", execution.name, execution.id)
        return Outcome(OutcomeKind.REQUEUED, exc=store_error, ran=outcome.ran)
    return outcome


def to_celery(execution: Execution, outcome: Outcome) -> Any:
    """The body's return value for Celery, or the exception Celery expects."""
    kind = outcome.kind
    if kind is OutcomeKind.SUCCEEDED:
        return outcome.result
    if kind is OutcomeKind.RETRIED:
        _raise_retry(execution, outcome)
    if kind is OutcomeKind.DEFERRED:
        _store_deferred(execution, outcome)
        raise Ignore()
    if kind is OutcomeKind.REQUEUED:
        raise Reject(str(outcome.exc), requeue=True)
    exc = outcome.exc if outcome.exc is not None else RuntimeError(kind.value)
    if kind is OutcomeKind.DEAD_LETTERED and outcome.reason in _REJECTING:
        if isinstance(exc, Reject):
            raise exc
        raise Reject(str(exc), requeue=False)
    raise exc


def _store_deferred(execution: Execution, outcome: Outcome) -> None:
    """``AsyncResult.state`` says DEFERRED (reason, until) until the task runs again."""
    task = execution.task
    if execution.eager or ignores_result(task, execution.request):
        return
    meta = {"reason": outcome.reason, "until": outcome.until}
    try:
        task.backend.store_result(execution.id, meta, DEFERRED_STATE, request=execution.request)
    except Exception:  # the message is republished already: the state is only a view
        log.warning(
            "%s[%s]: DEFERRED state not stored", execution.name, execution.id, exc_info=True
        )


def _raise_retry(execution: Execution, outcome: Outcome) -> NoReturn:
    if isinstance(outcome.exc, Retry):
        raise outcome.exc
    delay = max(0.0, (outcome.until or time.time()) - time.time())
    if execution.eager:
        # Celery's eager retry: apply() runs the signature again at once, retries + 1.
        task, request = execution.task, execution.request
        signature = task.signature_from_request(request, request.args, request.kwargs)
        raise EagerRetry(exc=outcome.exc, when=delay, is_eager=True, sig=signature)
    raise Retry(exc=outcome.exc, when=delay)


class EagerRetry(Retry):  # type: ignore[misc]
    """A retry policy's retry under eager mode. Celery's ``apply()`` runs it again at
    once; under ``task_eager_propagates`` Celery would raise it to the caller instead,
    so :meth:`stalwart.task.StalwartTask.apply` runs it then (Celery's own
    ``self.retry()`` is left as Celery has it)."""
