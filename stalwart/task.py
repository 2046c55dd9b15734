"""The task class every task of a :class:`stalwart.Stalwart` app is built on."""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, ClassVar

from celery import Task, signals

from stalwart.bulk import BulkResult, as_call
from stalwart.compat.transport import settle_polls
from stalwart.middleware.idempotency import idempotent_pipeline
from stalwart.middleware.outcomes import EagerRetry
from stalwart.options import TaskOptions
from stalwart.progress import Progress, report_progress

if TYPE_CHECKING:
    from stalwart.app import Stalwart

__all__ = ["StalwartTask", "connect_signals"]


class StalwartTask(Task):  # type: ignore[misc]
    """A Celery task run through its app's middleware pipeline (:mod:`stalwart.middleware`)."""

    stalwart_options: ClassVar[TaskOptions] = TaskOptions()
    #: A cancelled request always leaves its message to run again (see the module).
    Request = "stalwart.compat.request:Request"
    app: Stalwart

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.request.called_directly:
            return super().__call__(*args, **kwargs)
        return self.app.driver.run(
            self, args, kwargs, lambda: super(StalwartTask, self).__call__(*args, **kwargs)
        )

    def delay_many(self, calls: Iterable[Any], **options: Any) -> BulkResult:
        """Publish this task once per call (a tuple of arguments, a dict of keyword
        arguments, or a :class:`stalwart.bulk.Call`), a batch per round trip; see
        :mod:`stalwart.bulk`. Under eager mode each call is applied at once."""
        if self.app.conf.task_always_eager:
            results: list[Any] = []
            for value in calls:
                call = as_call(value)
                results.append(
                    self.apply_async(call.args, call.kwargs, **{**options, **call.options})
                )
            return BulkResult(results=results, errors={})
        return self.app.send_many(self.name, calls, **options)

    def apply(self, args: Any = None, kwargs: Any = None, **options: Any) -> Any:
        """Celery's eager run. A retry policy's retry runs again at once, with
        ``task_eager_propagates`` too (where Celery would raise ``Retry`` to the caller),
        so a unit test sees the final result or the final exception."""
        while True:
            try:
                return super().apply(args, kwargs, **options)
            except EagerRetry as retry:
                options["task_id"] = retry.sig.options.get("task_id") or options.get("task_id")
                options["retries"] = int(options.get("retries") or 0) + 1

    def progress(self, current: float, total: float | None, message: str | None = None) -> Progress:
        """Report how far this execution is (``app.progress(task_id)`` reads it back)."""
        return report_progress(self, current, total, message)

    # Celery's Django fixup gives apps DjangoTask (with these two) unless the app has
    # its own task class, as every Stalwart app has: so they are offered here, from
    # Celery's own implementation (needs Django; see docs/FRAMEWORKS.md).
    def delay_on_commit(self, *args: Any, **kwargs: Any) -> None:
        """``delay(...)`` when the current Django database transaction commits."""
        from celery.contrib.django.task import DjangoTask

        DjangoTask.delay_on_commit(self, *args, **kwargs)

    def apply_async_on_commit(self, *args: Any, **kwargs: Any) -> None:
        """``apply_async(...)`` when the current Django database transaction commits."""
        from celery.contrib.django.task import DjangoTask

        DjangoTask.apply_async_on_commit(self, *args, **kwargs)

    def idempotent_pipeline(self) -> AbstractContextManager[Any]:
        """A Redis transaction applied at most once per idempotency key (see
        :func:`stalwart.middleware.idempotency.idempotent_pipeline`)."""
        return idempotent_pipeline(self)


def _begin(sender: Any = None, args: Any = None, kwargs: Any = None, **_: Any) -> None:
    """``task_prerun`` (before Celery writes ``STARTED``): the pipeline's ``prepare``."""
    settle_polls()  # no message popped for this process while the task holds its thread
    if isinstance(sender, StalwartTask):
        sender.app.driver.begin(sender, tuple(args or ()), dict(kwargs or {}))


def _end(sender: Any = None, **_: Any) -> None:
    """``task_postrun`` (after the state is stored): the pipeline's ``finalize``."""
    if isinstance(sender, StalwartTask):
        sender.app.driver.end(sender)


def connect_signals() -> None:
    """Connect the prerun/postrun receivers that begin and end every execution."""
    signals.task_prerun.connect(_begin, weak=False, dispatch_uid="stalwart.execution.begin")
    signals.task_postrun.connect(_end, weak=False, dispatch_uid="stalwart.execution.end")
