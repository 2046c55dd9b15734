"""The worker side of the pipeline: one driver for the whole life of an execution.

Celery runs a task as ``task_prerun`` -> ``STARTED`` write -> the task's ``__call__``
(the body) -> the result write -> ``task_postrun``, in one thread. The driver follows
that path with one :class:`~stalwart.middleware.call.Execution`:

- :meth:`Driver.begin` (``task_prerun``): the ``prepare`` phase; early riders queue for
  the ``STARTED`` write.
- :meth:`Driver.run` (``StalwartTask.__call__``): early riders that found no write are
  sent (one pipeline); ``before_execute`` in order; the body; on an exception the
  ``decide`` phase; the outcome is applied (:mod:`.outcomes`: republish, dead letter);
  ``after_execute`` in reverse order with the final outcome; then Celery is told
  (result, ``Retry``, ``Ignore``, ``Reject``, or the exception).
- :meth:`Driver.end` (``task_postrun``): ``finalize`` in reverse order; late riders that
  found no write are sent (one pipeline), still before the message is acknowledged.

Under Celery's eager mode (``task_always_eager``, ``apply()``) only middleware with
``eager = True`` take part (the retry policy, idempotency), nothing is stored, and a
retry runs again synchronously through Celery's own eager retry
(:class:`~stalwart.middleware.outcomes.EagerRetry`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from celery.exceptions import Ignore, Reject, Retry

from stalwart.compat.backend import RedisBackend, started_write_follows
from stalwart.errors import StoreUnavailable
from stalwart.middleware.base import Middleware
from stalwart.middleware.call import Execution
from stalwart.middleware.controls import (
    Deferred,
    EndExecution,
    GiveUp,
    Outcome,
    OutcomeKind,
    ReturnResult,
)
from stalwart.middleware.outcomes import apply_outcome, to_celery
from stalwart.middleware.pipeline import Pipeline
from stalwart.middleware.riders import send, take_pending

if TYPE_CHECKING:
    from stalwart.app import Stalwart
    from stalwart.task import StalwartTask

__all__ = ["Driver"]

log = logging.getLogger("stalwart.middleware")

PHASES = ("prepare", "before_execute", "decide", "after_execute", "finalize")


class _Phases:
    """For each phase, the middleware that override it (the rest are skipped)."""

    def __init__(self, middleware: list[Middleware]) -> None:
        self.by_phase = {
            phase: [
                mw
                for mw in middleware
                if getattr(type(mw), phase) is not getattr(Middleware, phase)
            ]
            for phase in PHASES
        }


class Driver:
    """Runs one app's pipeline around every execution of its tasks in this process."""

    def __init__(self, app: Stalwart, pipeline: Pipeline) -> None:
        self.app = app
        self.pipeline = pipeline
        self._local = threading.local()
        self._version = -1
        self._all = _Phases([])
        self._eager = _Phases([])

    def _phases(self, eager: bool) -> dict[str, list[Middleware]]:
        if self._version != self.pipeline.version:  # middleware added since: recompute
            middleware = list(self.pipeline)
            self._all = _Phases(middleware)
            self._eager = _Phases([mw for mw in middleware if mw.eager])
            self._version = self.pipeline.version
        return (self._eager if eager else self._all).by_phase

    def _executions(self) -> dict[str, Execution]:
        running: dict[str, Execution] | None = getattr(self._local, "running", None)
        if running is None:
            running = self._local.running = {}
        return running

    def current(self, task_id: str) -> Execution | None:
        """The execution of ``task_id`` running in this thread, if any."""
        return self._executions().get(task_id)

    # -- task_prerun ----------------------------------------------------------------------

    def begin(self, task: StalwartTask, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Execution:
        request = task.request
        execution = Execution(task=task, args=args, kwargs=kwargs, request=request)
        if not request.is_eager:
            backend = self.app.backend
            execution.carries = isinstance(backend, RedisBackend) and backend.shares_server_with(
                self.app.redis
            )
            execution.started_write = started_write_follows(task)
        self._executions()[execution.id] = execution
        for mw in self._phases(execution.eager)["prepare"]:
            try:
                mw.prepare(execution)
            except Exception:
                log.exception(
                    "middleware %s failed preparing %s[%s]", mw.name, task.name, execution.id
                )
        return execution

    # -- StalwartTask.__call__ --------------------------------------------------------------

    def run(
        self,
        task: StalwartTask,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        body: Callable[[], Any],
    ) -> Any:
        execution = self.current(str(task.request.id))
        if execution is None:  # no task_prerun (a custom tracer): begin here
            execution = self.begin(task, args, kwargs)
        phases = self._phases(execution.eager)
        self._send_early(execution)
        outcome = self._execute(execution, phases, body)
        outcome = apply_outcome(execution, outcome)
        execution.outcome = outcome
        for mw in reversed(phases["after_execute"]):
            try:
                mw.after_execute(execution, outcome)
            except Exception:
                log.exception("middleware %s failed after %s[%s]", mw.name, task.name, execution.id)
        return to_celery(execution, outcome)

    def _execute(
        self, execution: Execution, phases: dict[str, list[Middleware]], body: Callable[[], Any]
    ) -> Outcome:
        try:
            for mw in phases["before_execute"]:
                mw.before_execute(execution)
            execution.body_started()
            try:
                result = body()
            finally:
                execution.body_ended()
            return Outcome(OutcomeKind.SUCCEEDED, result=result, ran=True)
        except EndExecution as control:
            if execution.ended_at is None:
                execution.body_ended()
            return _from_control(execution, control)
        except Retry as exc:  # Celery's own self.retry()
            return Outcome(OutcomeKind.RETRIED, exc=exc, ran=True, attempt=execution.retries + 1)
        except Ignore as exc:
            return Outcome(OutcomeKind.IGNORED, exc=exc, ran=execution.started is not None)
        except Reject as exc:
            if exc.requeue:
                return Outcome(OutcomeKind.IGNORED, exc=exc, ran=execution.started is not None)
            return Outcome(
                OutcomeKind.DEAD_LETTERED,
                exc=exc,
                ran=True,
                reason="rejected",
                attempt=execution.retries + 1,
            )
        except StoreUnavailable as exc:
            log.warning("%s[%s]: %s; requeued", execution.name, execution.id, exc)
            return Outcome(OutcomeKind.REQUEUED, exc=exc, ran=execution.started is not None)
        except Exception as exc:
            if execution.ended_at is None:
                execution.body_ended()
            return self._decide(execution, phases, exc)

    def _decide(
        self, execution: Execution, phases: dict[str, list[Middleware]], exc: Exception
    ) -> Outcome:
        ran = execution.started is not None
        for mw in phases["decide"]:
            try:
                decided = mw.decide(execution, exc)
            except Exception:
                log.exception(
                    "middleware %s failed deciding %s[%s]", mw.name, execution.name, execution.id
                )
                continue
            if decided is not None:
                decided.exc = decided.exc or exc
                decided.ran = ran
                return decided
        return Outcome(OutcomeKind.FAILED, exc=exc, ran=ran)

    def _send_early(self, execution: Execution) -> None:
        unsent = [rider for rider in execution.early_riders if not rider.sent]
        if not unsent:
            return
        take_pending(unsent)  # no STARTED write carried them: never send them twice
        try:
            send(self.app.redis, unsent)
        except Exception as exc:  # the before_execute phases see no reply and retry
            log.warning("early riders of %s[%s] not sent: %s", execution.name, execution.id, exc)

    # -- task_postrun -----------------------------------------------------------------------

    def end(self, task: StalwartTask) -> None:
        execution = self._executions().pop(str(task.request.id), None)
        if execution is None:
            return
        for mw in reversed(self._phases(execution.eager)["finalize"]):
            try:
                mw.finalize(execution)
            except Exception:
                log.exception(
                    "middleware %s failed finalizing %s[%s]", mw.name, task.name, execution.id
                )
        take_pending(execution.early_riders)
        unsent = take_pending(execution.late_riders)
        unsent += [r for r in execution.late_riders if not r.sent and r not in unsent]
        if unsent:
            try:
                send(self.app.redis, unsent)
            except Exception:
                log.exception("late riders of %s[%s] could not be sent", task.name, execution.id)


def _from_control(execution: Execution, control: EndExecution) -> Outcome:
    ran = execution.started is not None
    if isinstance(control, ReturnResult):
        return Outcome(OutcomeKind.SUCCEEDED, result=control.value, ran=ran, control=control)
    if isinstance(control, Deferred):
        return Outcome(
            OutcomeKind.DEFERRED,
            ran=ran,
            until=control.until,
            reason=control.reason,
            control=control,
        )
    if isinstance(control, GiveUp):
        attempts = control.attempts if control.attempts is not None else execution.retries + 1
        return Outcome(
            OutcomeKind.DEAD_LETTERED,
            exc=control.exc,
            ran=ran,
            reason=control.reason,
            control=control,
            attempt=attempts,
        )
    raise TypeError(f"unknown EndExecution {control!r}")
