"""``Stalwart``: a ``celery.Celery`` with hardened defaults, settings from the environment
and Stalwart's task options."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any, overload

import redis
from celery import Celery
from celery.app import backends
from celery.backends.redis import RedisBackend as CeleryRedisBackend
from sqlalchemy.engine import Engine

from stalwart.coordination import connect
from stalwart.db.engine import create_engine_for
from stalwart.db.migrate import current_revision, head_revision, upgrade
from stalwart.deadletter.store import DeadLetterStore
from stalwart.defaults import hardened_config, validate_timeouts
from stalwart.embedded import EmbeddedServer, attach
from stalwart.errors import SettingsError
from stalwart.hooks import HookChain
from stalwart.options import split_task_options
from stalwart.reliability.progress import Progress, read_progress
from stalwart.results import RedisBackend as ResultsRedisBackend
from stalwart.services import Service
from stalwart.settings import Settings
from stalwart.task import StalwartTask
from stalwart.transport import REDIS_TRANSPORTS
from stalwart.transport import Transport as RedisTransport
from stalwart.wiring import background_services, connect_signals, task_hooks
from stalwart.worker.step import StalwartWorkerStep

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
        super().__init__(main, **kwargs)
        self.add_defaults(hardened_config(self.settings))
        self.steps["worker"].add(StalwartWorkerStep)
        connect_signals()
        self._lock = threading.Lock()
        self._redis: redis.Redis | None = None
        self._hook_chain: HookChain | None = None
        self._embedded: EmbeddedServer | None = None
        self._engine: Engine | None = None
        self._engine_pid = 0

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
            options, celery_options = split_task_options(fun, opts)
            return super(Stalwart, self).task(stalwart_options=options, **celery_options)(fun)

        if len(args) == 1 and callable(args[0]):
            return decorate(args[0])
        if args:
            raise TypeError("@app.task() takes only keyword options")
        return decorate

    @property
    def hook_chain(self) -> HookChain:
        """The hooks every task execution runs through (built once per process)."""
        if self._hook_chain is None:
            self._hook_chain = HookChain(task_hooks(self))
        return self._hook_chain

    def background_services(self) -> list[Service]:
        """Services this process runs beside its main job (pump, recorder)."""
        return background_services(self)

    # -- reliable tasks -------------------------------------------------------------------

    def progress(self, task_id: str) -> Progress | None:
        """The latest progress a task reported with ``self.progress(...)``, or None."""
        return read_progress(self.redis, task_id)

    @property
    def dead_letters(self) -> DeadLetterStore:
        """The dead-letter store: ``list``/``get``/``replay``/``discard``."""
        return DeadLetterStore(self)

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
            return
        if engine.url.get_backend_name() == "sqlite":
            upgrade(engine)
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

    # Celery opens broker connections and the result backend through these two
    # methods; the embedded server is started on first use, by producers too.
    def _connection(self, url: str, *args: Any, **kwargs: Any) -> Any:
        self.ensure_stores()
        connection = super()._connection(url, *args, **kwargs)
        if connection.transport_cls in REDIS_TRANSPORTS:
            connection.transport_cls = RedisTransport  # see stalwart.transport
        return connection

    def _get_backend(self) -> Any:
        """Celery's backend; its Redis one is :class:`stalwart.results.RedisBackend`."""
        self.ensure_stores()
        backend, url = backends.by_url(self.backend_cls or self.conf.result_backend, self.loader)
        if backend is CeleryRedisBackend:
            backend = ResultsRedisBackend  # carries Stalwart's per-task writes (see the module)
        return backend(app=self, url=url)
