"""The task class every task of a :class:`stalwart.Stalwart` app is built on."""

from __future__ import annotations

import time
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, ClassVar

from celery import Task, signals

from stalwart.hooks import Deferred, TaskCall
from stalwart.options import TaskOptions
from stalwart.reliability.failure import handle_failure
from stalwart.reliability.idempotency import idempotent_pipeline
from stalwart.reliability.progress import Progress, report_progress
from stalwart.reschedule import defer_current
from stalwart.results import send_stranded

if TYPE_CHECKING:
    from stalwart.app import Stalwart

__all__ = ["StalwartTask", "connect_signals"]


class StalwartTask(Task):  # type: ignore[misc]
    """A Celery task run through the app's hook chain (see :mod:`stalwart.hooks`)."""

    stalwart_options: ClassVar[TaskOptions] = TaskOptions()
    app: Stalwart

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.request.called_directly:
            return super().__call__(*args, **kwargs)
        call = TaskCall(task=self, args=args, kwargs=kwargs)
        try:
            return self.app.hook_chain.run(
                call, lambda: super(StalwartTask, self).__call__(*args, **kwargs)
            )
        except Deferred as deferred:
            defer_current(self, countdown=deferred.until - time.time())
        except Exception as exc:
            handle_failure(self, exc)  # retry per the policy, or dead-letter; raises

    def progress(self, current: float, total: float | None, message: str | None = None) -> Progress:
        """Report how far this execution is (``app.progress(task_id)`` reads it back)."""
        return report_progress(self, current, total, message)

    def idempotent_pipeline(self) -> AbstractContextManager[Any]:
        """A Redis transaction applied at most once per idempotency key (see
        :func:`stalwart.reliability.idempotency.idempotent_pipeline`)."""
        return idempotent_pipeline(self)


def _prepare(sender: Any = None, args: Any = None, kwargs: Any = None, **_: Any) -> None:
    """``task_prerun`` (before Celery writes ``STARTED``): the hooks' :meth:`prepare`."""
    if isinstance(sender, StalwartTask):
        call = TaskCall(task=sender, args=tuple(args or ()), kwargs=dict(kwargs or {}))
        sender.app.hook_chain.prepare(call)


def _finalize(sender: Any = None, args: Any = None, kwargs: Any = None, **_: Any) -> None:
    """``task_postrun`` (after the result is stored): the hooks' :meth:`finalize`."""
    if isinstance(sender, StalwartTask):
        call = TaskCall(task=sender, args=tuple(args or ()), kwargs=dict(kwargs or {}))
        try:
            sender.app.hook_chain.finalize(call)
        finally:
            send_stranded(sender.app)  # required riders no result write carried


def connect_signals() -> None:
    """Connect the prerun/postrun receivers that drive the hooks' prepare/finalize."""
    signals.task_prerun.connect(_prepare, weak=False, dispatch_uid="stalwart.hooks.prepare")
    signals.task_postrun.connect(_finalize, weak=False, dispatch_uid="stalwart.hooks.finalize")
