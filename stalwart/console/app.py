"""``create_app``: the console's ASGI app for a Stalwart app and its settings.

::

    from stalwart.console import create_app
    asgi = create_app(app)            # serve with any ASGI server, or ConsoleServer

The app runs the Stalwart background services (pump, recorder, retention) like every
Stalwart process, plus the console's own event tap, for as long as it is served
(its lifespan); ``services=False`` leaves them out (tests of the web layer alone).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from prometheus_client import CollectorRegistry

from stalwart import __version__
from stalwart.console.auth import Authenticator
from stalwart.console.context import Console
from stalwart.console.errors import install_error_handlers
from stalwart.console.metrics import StoreCollector
from stalwart.console.middleware import AuthMiddleware
from stalwart.console.routes import (
    audit,
    dlq,
    fleet,
    limits,
    overview,
    probes,
    schedules,
    session,
    tasks,
)
from stalwart.console.stats import EventTap, Stats
from stalwart.services import ServiceRunner

if TYPE_CHECKING:
    from stalwart.app import Stalwart

__all__ = ["create_app"]

STATIC = Path(__file__).parent / "static"
ROUTERS = (overview, tasks, dlq, schedules, limits, fleet, audit, session, probes)


def create_app(app: Stalwart, *, services: bool = True) -> FastAPI:
    """The console for ``app`` (its settings decide auth and stores)."""
    registry = CollectorRegistry(auto_describe=True)
    stats = Stats(registry)
    collector = StoreCollector(app)
    registry.register(collector)
    console = Console(app, Authenticator(app.settings), registry, stats, collector)

    @contextlib.asynccontextmanager
    async def lifespan(_api: FastAPI) -> AsyncIterator[None]:
        runner = None
        if services:
            app.ensure_stores()
            app.ensure_schema()
            runner = ServiceRunner([*app.background_services(), EventTap(app.redis, stats)])
            runner.start()
        try:
            yield
        finally:
            if runner is not None:
                runner.stop()

    api = FastAPI(
        title="Stalwart console",
        version=__version__,
        description="The JSON API of the Stalwart operations console: every page's data "
        "under /api, operator actions (POST/PUT/DELETE; an operator, and the X-CSRF-Token "
        "header unless authenticated with the bearer token), probes and metrics.",
        lifespan=lifespan,
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    api.state.console = console
    api.add_middleware(AuthMiddleware)
    install_error_handlers(api)
    api.mount("/static", StaticFiles(directory=STATIC), name="static")
    for module in ROUTERS:
        api.include_router(module.router)
    return api
