"""``stalwart.Middleware``: the one extension point every guarantee is built from.

A middleware is a class with empty phase methods; override the ones you need. The
app's :class:`~stalwart.middleware.pipeline.Pipeline` calls them in order (publish and
before-phases in pipeline order, after-phases in reverse), the built-in guarantees
being middleware like any other::

    class Audit(Middleware):
        name = "audit"
        options = (TaskOption("audited", parse=as_flag, default=False,
                              doc="Log every run of this task."),)

        def after_execute(self, execution, outcome):
            if AUDITED.of(execution.options):
                log.info("%s ended: %s", execution.id, outcome.kind)

    app.add_middleware(Audit(), after="recording")

Phases, with who drives them:

=====================  ==========================================  ==================
phase                  when                                        may
=====================  ==========================================  ==================
``before_publish``     a producer publishes (``apply_async``,      add headers; raise
                       ``send_task``, signatures, retries)         to refuse the send
``after_publish``      the broker accepted it                      record
``publish_failed``     it was not published (undo what             undo
                       ``before_publish`` took)
``prepare``            before Celery's ``STARTED`` write           queue early riders
``before_execute``     before the body                             raise Deferred /
                                                                   ReturnResult /
                                                                   GiveUp
``decide``             the body (or a before_execute) raised       return an Outcome
``after_execute``      after the body or an early end, with the    queue late riders
                       final :class:`Outcome` (reverse order)
``finalize``           after Celery stored the state               give back what
                       (``task_postrun``), always                  prepare took
=====================  ==========================================  ==================

``after_execute`` runs for every middleware whose ``before_execute`` ran; ``finalize``
for every middleware. A failing after-phase is logged and the others still run: the
task's own outcome is what counts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, cast

from stalwart.middleware.call import Execution, Publication
from stalwart.middleware.controls import Outcome

if TYPE_CHECKING:
    from stalwart.app import Stalwart
    from stalwart.options import TaskOptions

__all__ = ["Middleware", "OptionTarget", "TaskOption"]

T = TypeVar("T")


@dataclass(frozen=True)
class OptionTarget:
    """The function being decorated, for option parsers that bind to its signature."""

    fun: Callable[..., Any]
    bound: bool  # ``bind=True``: the first parameter is the task itself

    @property
    def qualname(self) -> str:
        return str(getattr(self.fun, "__qualname__", self.fun))


@dataclass(frozen=True, eq=False)
class TaskOption(Generic[T]):
    """A task option a middleware owns: its name, parser, default and documentation.

    ``parse(value, target)`` turns what the user wrote into the typed value (or raises
    :class:`~stalwart.errors.TaskOptionError` saying what is wrong); :meth:`of` reads
    the parsed value of a task (the default when the task does not set it).
    """

    name: str
    parse: Callable[[Any, OptionTarget], T]
    default: T
    doc: str

    def of(self, options: TaskOptions) -> T:
        return cast(T, options.get(self.name, self.default))

    @staticmethod
    def optional(name: str, parse: Callable[[Any], T], doc: str) -> TaskOption[T | None]:
        """An option that is off (None) unless given, parsed by ``parse(value)``."""

        def parse_given(value: Any, target: OptionTarget) -> T | None:
            return None if value is None else parse(value)

        return TaskOption(name, parse=parse_given, default=None, doc=doc)


class Middleware:
    """Base class of middleware: every phase does nothing until overridden."""

    #: Unique name, used by ``add_middleware(before=..., after=...)`` and in logs.
    name: ClassVar[str] = "middleware"
    #: The task options this middleware owns (validated at ``@app.task``).
    options: Sequence[TaskOption[Any]] = ()
    #: Whether it takes part in eager executions (``task_always_eager``, ``apply()``),
    #: where nothing is stored and no store needs to be reachable. The built-in
    #: guarantees other than the retry policy set this to False.
    eager: ClassVar[bool] = True

    def setup(self, app: Stalwart) -> None:
        """Called once when the middleware joins ``app``'s pipeline."""

    def check_options(self, options: TaskOptions, target: OptionTarget) -> None:
        """Check combinations of this middleware's options (each parsed already);
        raise :class:`~stalwart.errors.TaskOptionError` for a bad one."""

    # -- producer -------------------------------------------------------------------------

    def before_publish(self, message: Publication) -> None:
        """A message is about to be published. Raise to refuse it."""

    def after_publish(self, message: Publication) -> None:
        """The broker accepted the message."""

    def publish_failed(self, message: Publication, exc: BaseException) -> None:
        """The message was not published: give back what ``before_publish`` took."""

    # -- worker ---------------------------------------------------------------------------

    def prepare(self, execution: Execution) -> None:
        """Before Celery writes ``STARTED``: queue early riders (:meth:`Execution.early`).
        Must not end the execution."""

    def before_execute(self, execution: Execution) -> None:
        """Before the body. Raise a :class:`~stalwart.middleware.controls.EndExecution`
        to end the execution early."""

    def decide(self, execution: Execution, exc: Exception) -> Outcome | None:
        """The body (or a ``before_execute``) raised ``exc``: say how the execution ends
        (``RETRIED``, ``DEAD_LETTERED``, ``FAILED``...), or None to leave it to the next
        middleware. Nobody deciding means ``FAILED``."""
        return None

    def after_execute(self, execution: Execution, outcome: Outcome) -> None:
        """After the body or an early end, with the final outcome."""

    def finalize(self, execution: Execution) -> None:
        """At ``task_postrun``, after the state is stored; runs for every middleware."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"
