"""What a command works on: the app behind ``-A`` (or the environment's settings) and
the stores, opened the way the command needs them.

This is the one place the CLI opens an app. Commands that change something call
:meth:`Context.app` (the durable store is created and, for SQLite, migrated; the
embedded server is started on first use). Commands that only read call
:meth:`Context.database` and :meth:`Context.coordination`: they never create a store,
migrate it or start the embedded server, and when there is nothing to read they say
which store they looked at (:meth:`Context.nothing`).

Heavy modules (Celery, SQLAlchemy, redis) are imported inside the methods that need
them, so ``stalwart --help`` and the read commands stay quick.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from stalwart.errors import NotFound, StalwartError, StoreUnavailable, TargetError

if TYPE_CHECKING:
    import redis
    from sqlalchemy.engine import Engine

    from stalwart.app import Stalwart
    from stalwart.settings import Settings

__all__ = ["AppOption", "Context", "load_app"]

AppOption = Annotated[str | None, typer.Option("-A", "--app", help="MODULE:APP (optional)")]
TIMEOUT = 3.0


class Context:
    """The settings and stores of one command run (``-A`` optional)."""

    def __init__(self, target: str | None) -> None:
        self.target = target
        self._app: Stalwart | None = load_app(target) if target else None
        self._settings: Settings | None = self._app.settings if self._app else None

    @property
    def loaded(self) -> Stalwart | None:
        """The app named by ``-A``, if one was given (None: settings from the environment)."""
        return self._app if self.target else None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from stalwart.settings import Settings

            self._settings = Settings.from_env()
        return self._settings

    # -- commands that change something -------------------------------------------------

    def app(self, *, schema: bool = True) -> Stalwart:
        """The ``-A`` app, or one on the environment's settings; its schema made current."""
        if self._app is None:
            from stalwart.app import Stalwart

            self._app = Stalwart("stalwart-cli", settings=self.settings)
        if schema:
            self._app.ensure_schema()
        return self._app

    def app_with_store(self, missing: str) -> Stalwart:
        """The app of a command that acts on stored records (replay, pause, ...). With no
        store there is nothing to act on: NotFound says so, and nothing is created."""
        if self.database() is None:
            raise NotFound(f"{missing}: {self.no_store()}")
        return self.app()

    # -- commands that only read --------------------------------------------------------

    def database(self) -> Engine | None:
        """The durable store if it exists (None: a SQLite file that was never created)."""
        from stalwart.db.engine import create_engine_for

        path = self.sqlite_path()
        if path is not None and not path.exists():
            return None
        if self._app is not None:
            return self._app.engine
        return create_engine_for(self.settings.effective_database_url)

    def sqlite_path(self) -> Path | None:
        """The SQLite file of the durable store, or None for a database server."""
        from sqlalchemy.engine import make_url

        url = make_url(self.settings.effective_database_url)
        if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
            return None
        return Path(url.database).resolve()

    def coordination(self) -> redis.Redis | None:
        """A client of the coordination store; None if it is the embedded server and that
        is not running (it is never started here)."""
        import redis as redis_lib

        from stalwart.settings import display_url

        settings = self.settings
        embedded = self._embedded_coordination()
        if embedded and not settings.embedded_socket.exists():
            return None
        client = redis_lib.Redis.from_url(
            settings.effective_redis_url,
            socket_timeout=TIMEOUT,
            socket_connect_timeout=TIMEOUT,
        )
        try:
            client.ping()
        except redis_lib.RedisError as exc:
            client.close()
            if embedded:
                return None
            variable = "STALWART_REDIS_URL" if settings.redis_url else "STALWART_BROKER_URL"
            raise StoreUnavailable(
                f"{variable} {display_url(settings.effective_redis_url)} is unreachable: "
                f"{_first_line(exc)}"
            ) from None
        return client

    def live_app(self) -> Stalwart | None:
        """The app, for reads that also need live state; None if the embedded server is
        not running (so nothing is started to answer a question)."""
        client = self.coordination()
        if client is None:
            return None
        client.close()
        return self.app(schema=False)

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Turn a missing table or an unreachable database into one clear line."""
        from sqlalchemy.exc import OperationalError, ProgrammingError

        try:
            yield
        except (OperationalError, ProgrammingError) as exc:
            text = _first_line(exc.orig if exc.orig is not None else exc)
            where = self.store_name()
            if "no such table" in text or "does not exist" in text:
                raise StoreUnavailable(
                    f"the store at {where} has no Stalwart tables yet: run 'stalwart db "
                    "upgrade' (a worker on SQLite does it when it starts)"
                ) from None
            raise StoreUnavailable(f"the store at {where} cannot be read: {text}") from None

    def store_name(self) -> str:
        """The durable store for people: the SQLite path, or the URL without password."""
        path = self.sqlite_path()
        if path is not None:
            return str(path)
        from sqlalchemy.engine import make_url

        return make_url(self.settings.effective_database_url).render_as_string(hide_password=True)

    def no_store(self) -> str:
        """Why there is nothing to read: which store was looked for, and how it was chosen."""
        settings = self.settings
        if settings.database_url is not None:
            how = "STALWART_DATABASE_URL"
        elif "data_dir" in settings.model_fields_set:
            how = "STALWART_DATA_DIR"
        else:
            how = "the nearest .stalwart directory from here upward, else ./.stalwart"
        return f"no store at {self.store_name()} ({how}): nothing has run with it yet"

    def not_running(self) -> str:
        return (
            f"the embedded server of {self.settings.data_dir} is not running "
            "(no worker, beat or console is using it)"
        )

    def nothing(self, as_json: bool, empty: Any, what: str, why: str) -> None:
        """Report an empty answer: ``empty`` as JSON (the reason on stderr), or one line."""
        from stalwart.cli.output import console, print_json

        if as_json:
            print_json(empty)
            print(f"stalwart: {why}", file=sys.stderr)
        else:
            console.print(f"{what}: {why}", highlight=False, markup=False)

    def _embedded_coordination(self) -> bool:
        settings = self.settings
        return settings.redis_url is None and (
            settings.broker_url is None or not settings.broker_is_redis
        )


def load_app(target: str) -> Stalwart:
    """Import ``module:attribute`` (attribute defaults to ``app``) and check it is a Stalwart."""
    module_name, _, attribute = target.partition(":")
    attribute = attribute or "app"
    if not module_name:
        raise TargetError(f"-A {target!r}: expected MODULE:APP, for example 'crm.tasks:app'")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise TargetError(
                f"-A {target!r}: no module named {exc.name!r} (run from the project "
                "directory or install the package)"
            ) from None
        raise TargetError(f"-A {target!r}: importing {module_name} failed: {exc}") from None
    except StalwartError:
        raise  # a wrong setting in the app's module: its own message says what to do
    except Exception as exc:
        raise TargetError(
            f"-A {target!r}: importing {module_name} failed: {type(exc).__name__}: {exc}"
        ) from None
    from celery import Celery

    from stalwart.app import Stalwart

    app = getattr(module, attribute, None)
    if app is None:
        raise TargetError(f"-A {target!r}: module {module_name} has no attribute {attribute!r}")
    if isinstance(app, Stalwart):
        return app
    if isinstance(app, Celery):
        raise TargetError(
            f"-A {target!r} is a celery.Celery, not a stalwart.Stalwart: change "
            "Celery(...) to Stalwart(...) in that module"
        )
    raise TargetError(f"-A {target!r} is a {type(app).__name__}, not a stalwart.Stalwart app")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__
