"""``Stalwart``: a ``celery.Celery`` with hardened defaults, settings from the environment
and Stalwart's task options."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from functools import cached_property
from typing import Any, overload

import redis
from celery import Celery
from celery.app import backends
from sqlalchemy.engine import Engine

from stalwart.bulk import DEFAULT_BATCH, BulkResult, send_many
from stalwart.compat.backend import RedisBackend, is_celery_redis_backend
from stalwart.coordination import connect
from stalwart.db.engine import create_engine_for
from stalwart.db.migrate import current_revision, head_revision, upgrade
from stalwart.deadletter.store import DeadLetterStore
from stalwart.defaults import hardened_config, validate_serializers, validate_timeouts
from stalwart.delays.store import DelayStore
from stalwart.embedded import EmbeddedServer, attach
from stalwart.errors import SettingsError
from stalwart.events.buffer import EventBuffer
from stalwart.middleware.base import Middleware
from stalwart.middleware.driver import Driver
from stalwart.middleware.pipeline import Pipeline, Position
from stalwart.middleware.publishing import Publisher
from stalwart.options import split_task_options
from stalwart.progress import Progress, read_progress
from stalwart.redaction import Redactor
from stalwart.services import Service
from stalwart.settings import Settings
from stalwart.task import StalwartTask
from stalwart.wiring import background_services, builtin_middleware, connect_signals
from stalwart.worker.step import StalwartConsumerStep, StalwartWorkerStep

__all__ = ["Stalwart"]


class Stalwart(Celery):  # type: ignore[misc]
    """A Celery app with Stalwart's guarantees.

    ``Stalwart("crm")`` reads ``STALWART_*`` settings from the environment; pass
    ``settings=Settings(...)`` to give them explicitly. Every Celery argument and
    setting still works, and any of Stalwart's defaults can be overridden with
    ``app.conf.update(...)`` or ``app.config_from_object(...)``.
    """

    def __init__(
        self, main: str | None = None, settings: Settings | None = None, **kwargs: Any
    ) -> None:
        self.settings = settings if settings is not None else Settings.from_env()
        kwargs.setdefault("broker", self.settings.effective_broker_url)
        kwargs.setdefault("task_cls", StalwartTask)
        kwargs.setdefault("amqp", "stalwart.compat.amqp:AMQP")
        kwargs.setdefault("control", "stalwart.compat.control:Control")
        super().__init__(main, **kwargs)
        hardened = hardened_config(self.settings)
        self.add_defaults(hardened)
        self.on_after_configure.connect(
            lambda source, **_: _under_user_config(source, hardened), weak=False
        )
        self.steps["worker"].add(StalwartWorkerStep)
        self.steps["consumer"].add(StalwartConsumerStep)
        connect_signals()
        self._lock = threading.RLock()
        self._redis: redis.Redis | None = None
        self._embedded: EmbeddedServer | None = None
        self._engine: Engine | None = None
        self._engine_pid = 0
        self._schema_checked = False
        self._events: EventBuffer | None = None
        self._delays: DelayStore | None = None
        #: False: this app records no history (the benchmarks' "off" side).
        self.record_history = True
        #: The clock calendar limits read (quota periods, windows); tests inject one.
        #: (Not ``clock``: that is Celery's Lamport clock.)
        self.calendar_clock: Callable[[], float] = time.time
        #: Masks argument values by name (``STALWART_REDACT``) wherever they are shown.
        self.redactor = Redactor(self.settings.redact)
        #: The middleware every publish and execution of this app's tasks runs through.
        self.pipeline = Pipeline()
        self.driver = Driver(self, self.pipeline)
        self.publisher = Publisher(self, self.pipeline)
        for middleware in builtin_middleware():
            self.add_middleware(middleware)

    # -- tasks ----------------------------------------------------------------------------

    @overload
    def task(self, fun: Callable[..., Any], /) -> Any: ...

    @overload
    def task(self, **opts: Any) -> Callable[[Callable[..., Any]], Any]: ...

    def task(self, *args: Any, **opts: Any) -> Any:
        """Celery's ``@app.task`` plus Stalwart's options (validated here, at decoration)."""
        if not opts:
            return super().task(*args)

        def decorate(fun: Callable[..., Any]) -> Any:
            options, celery_options = split_task_options(fun, opts, self.pipeline)
            return super(Stalwart, self).task(stalwart_options=options, **celery_options)(fun)

        if len(args) == 1 and callable(args[0]):
            return decorate(args[0])
        if args:
            raise TypeError("@app.task() takes only keyword options")
        return decorate

    def _task_from_fun(
        self,
        fun: Callable[..., Any],
        name: str | None = None,
        base: type | None = None,
        bind: bool = False,
        **options: Any,
    ) -> Any:
        """Celery's task factory. Options that reach it without passing through
        :meth:`task` (``@shared_task(...)``, which Celery applies to every app when it is
        finalized) are split and validated here, so they mean the same on either."""
        if options and "stalwart_options" not in options:
            given = {**options, "bind": bind}
            if base is not None:
                given["base"] = base
            parsed, celery_options = split_task_options(fun, given, self.pipeline)
            celery_options.pop("bind", None)
            celery_options.pop("base", None)
            options = {**celery_options, "stalwart_options": parsed}
        return super()._task_from_fun(fun, name=name, base=base, bind=bind, **options)

    def add_middleware(
        self, middleware: Middleware, *, before: Position = None, after: Position = None
    ) -> None:
        """Add ``middleware`` to this app's pipeline (at the end, or before/after another
        one, by name or class). Add it before decorating the tasks that use its options.
        """
        self.pipeline.add(middleware, before=before, after=after)
        middleware.setup(self)

    def replace_middleware(self, name: str, middleware: Middleware) -> Middleware:
        """Put ``middleware`` in the place of the one named ``name`` (e.g. a flow control
        with a limit of your own); returns the one replaced."""
        replaced = self.pipeline.replace(name, middleware)
        middleware.setup(self)
        return replaced

    def send_many(
        self, name: str, calls: Iterable[Any], *, batch_size: int = DEFAULT_BATCH, **options: Any
    ) -> BulkResult:
        """Publish task ``name`` once per call, a batch per round trip (see
        :mod:`stalwart.bulk`); a call that cannot be sent is reported, never dropped."""
        return send_many(self, name, calls, batch_size=batch_size, **options)

    def background_services(self) -> list[Service]:
        """Services this process runs beside its main job (pump, recorder)."""
        return background_services(self)

    # -- reliable tasks -------------------------------------------------------------------

    def progress(self, task_id: str) -> Progress | None:
        """The latest progress a task reported with ``self.progress(...)``, or None."""
        return read_progress(self.redis, task_id)

    @property
    def dead_letters(self) -> DeadLetterStore:
        """The dead-letter store: ``list``/``get``/``replay``/``discard``.

        Its schema is checked once per process (see :meth:`ensure_schema`): a fresh
        SQLite store is created, any other one out of date is a clear SettingsError.
        """
        if not self._schema_checked:
            self.ensure_schema()
        return DeadLetterStore(self)

    @property
    def delays(self) -> DelayStore:
        """The delay store: messages that run later (retries, deferrals, long countdowns)."""
        if self._delays is None:
            self._delays = DelayStore(self)
        return self._delays

    @property
    def task_events(self) -> EventBuffer:
        """This process's buffer of task events (see :mod:`stalwart.events`)."""
        if self._events is None:
            with self._lock:
                if self._events is None:
                    self._events = EventBuffer(self.redis, maxlen=self.settings.stream_maxlen)
        return self._events

    # -- stores ---------------------------------------------------------------------------

    def ensure_stores(self) -> None:
        """Start (or attach to) the embedded server if the settings use it."""
        if not self.settings.needs_embedded:
            return
        with self._lock:
            if self._embedded is None:
                self._embedded = attach(self.settings)

    def release_stores(self, wait: float = 0.0) -> None:
        """Give up this process's use of the embedded server (see EmbeddedServer.detach)."""
        with self._lock:
            if self._embedded is not None:
                self._embedded.detach(wait=wait)
                self._embedded = None

    @property
    def redis(self) -> redis.Redis:
        """The coordination store client of this process."""
        if self._redis is None:
            self.ensure_stores()
            self._redis = connect(self.settings)
        return self._redis

    @property
    def engine(self) -> Engine:
        """The durable store (SQLAlchemy engine) of this process."""
        if self._engine is not None and self._engine_pid != os.getpid():
            # Forked (prefork pool child): never share the parent's pooled connections.
            self._engine.dispose(close=False)
            self._engine = None
        if self._engine is None:
            self._engine = create_engine_for(self.settings.effective_database_url)
            self._engine_pid = os.getpid()
        return self._engine

    def ensure_schema(self) -> None:
        """Make sure the durable store has the current schema.

        A SQLite store (single host, the embedded default) is upgraded automatically;
        any other database must be upgraded on purpose with ``stalwart db upgrade``.
        """
        engine = self.engine
        if current_revision(engine) == head_revision():
            self._schema_checked = True
            return
        if engine.url.get_backend_name() == "sqlite":
            upgrade(engine)
            self._schema_checked = True
            return
        raise SettingsError(
            f"the database at STALWART_DATABASE_URL is at schema {current_revision(engine)}, "
            f"this Stalwart needs {head_revision()}: run 'stalwart db upgrade'"
        )

    def check_configuration(self) -> None:
        """Raise SettingsError if the effective Celery configuration is unsafe."""
        problem = validate_timeouts(self.conf)
        if problem is not None:
            raise SettingsError(f"unsafe timeouts: {problem}; keep soft < hard < visibility")
        problem = validate_serializers(self.conf, self.tasks.values())
        if problem is not None:
            raise SettingsError(
                f"pickle is refused: {problem}; Stalwart accepts JSON only (pickle runs code "
                "from whoever can write to the broker): remove it"
            )

    @cached_property
    def Worker(self) -> Any:
        """Celery's worker application, whose banner also says Stalwart's history is on."""
        from stalwart.worker.banner import Worker

        return self.subclass_with_self(Worker)

    # Celery opens broker connections and the result backend through these two
    # methods; the embedded server is started on first use, by producers too.
    # (Stalwart's transport comes in through ``amqp=``: see stalwart.compat.amqp.)
    def _connection(self, url: str, *args: Any, **kwargs: Any) -> Any:
        if not self.conf.task_always_eager:
            # Under eager mode (unit tests) nothing is published: Celery only borrows a
            # producer for its serializer, which must not start a server.
            self.ensure_stores()
        return super()._connection(url, *args, **kwargs)

    def _get_backend(self) -> Any:
        """Celery's backend; its Redis one carries the pipeline's riders
        (:class:`stalwart.compat.backend.RedisBackend`)."""
        if not self.conf.task_always_eager:  # eager calls store no result
            self.ensure_stores()
        backend, url = backends.by_url(self.backend_cls or self.conf.result_backend, self.loader)
        if is_celery_redis_backend(backend):
            backend = RedisBackend
        return backend(app=self, url=url)


def _under_user_config(conf: Any, hardened: dict[str, Any]) -> None:
    """Put Stalwart's hardened defaults under the user's configuration.

    Celery's ``add_defaults`` places a mapping in front of the ``config_from_object``
    source, so a Django ``CELERY_TASK_SOFT_TIME_LIMIT`` lost to Stalwart's default. Once
    configured, the order is made: ``conf.update`` > the config source > Stalwart's
    hardened defaults > Celery's own defaults (the last mapping).
    """
    for layers in (conf.defaults, conf.maps):
        if any(layer is hardened for layer in layers[:-1]):
            layers[:] = [layer for layer in layers if layer is not hardened]
            layers.insert(len(layers) - 1, hardened)
