"""The CRM's HTTP API (FastAPI): webhooks, imports, campaigns, health.

``create_app()`` builds it on the CRM's Stalwart app (its database) and settings;
``python -m stalwart.demo api --port 8001`` serves it with uvicorn.

- :mod:`.webhooks`   ``POST /demo/webhooks/sms``
- :mod:`.imports`    ``POST /demo/imports``, ``GET /demo/imports/{id}``
- :mod:`.campaigns`  ``POST /demo/campaigns``, ``POST .../{id}/launch``, ``GET .../{id}``
- :mod:`.health`     ``GET /demo/healthz``, ``GET /demo/readyz``
- :mod:`.limits`     the body-size limits (413)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse

from stalwart.demo.api import campaigns, health, imports, webhooks
from stalwart.demo.api.context import CrmContext
from stalwart.demo.api.limits import BodyLimit
from stalwart.demo.campaigns import AlreadyLaunched
from stalwart.demo.config import CrmConfig
from stalwart.errors import NotFound

__all__ = ["create_app"]

DEFAULT_LIMIT = 64 * 1024


def create_app(context: CrmContext | None = None) -> FastAPI:
    """The API on ``context`` (default: the CRM app's database and ``CRM_*`` settings)."""
    if context is None:
        from stalwart.demo.tasks import app as crm_app

        context = CrmContext(crm_app.engine, CrmConfig.from_env())
    api = FastAPI(title="Stalwart demo CRM", version="1.0", docs_url="/demo/docs")
    api.state.crm = context
    for module in (webhooks, imports, campaigns, health):
        api.include_router(module.router)
    api.add_exception_handler(NotFound, _answer(404))
    api.add_exception_handler(AlreadyLaunched, _answer(409))
    api.add_middleware(
        BodyLimit,
        limits={"/demo/webhooks": webhooks.WEBHOOK_LIMIT, "/demo/imports": imports.IMPORT_LIMIT},
        default=DEFAULT_LIMIT,
    )

    def openapi() -> dict[str, Any]:
        if api.openapi_schema is None:
            schema = get_openapi(title=api.title, version=api.version, routes=api.routes)
            schema.setdefault("components", {}).setdefault("schemas", {}).update(
                webhooks.event_schemas()
            )
            api.openapi_schema = schema
        return api.openapi_schema

    api.openapi = openapi  # type: ignore[method-assign]
    return api


def _answer(status: int) -> Callable[[Request, Exception], Awaitable[Response]]:
    """An exception handler: the error's message as the ``detail`` of a ``status``."""

    async def handle(request: Request, exc: Exception) -> Response:
        return JSONResponse({"detail": str(exc)}, status_code=status)

    return handle
