"""Errors as answers: a clear 4xx with a JSON body (an HTML page for pages), never a traceback.

Every JSON error has one shape: ``{"error": {"status": 404, "type": "NotFound",
"message": "no task 'x' in history ..."}}`` (422 adds ``details``). A store that is
down is a 503 that names the store; anything unexpected is logged and answered 500
with the same shape, without internals.
"""

from __future__ import annotations

import logging
from typing import Any

import redis
import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from stalwart.errors import (
    ActionRefused,
    NotFound,
    QueryError,
    ReplayRefused,
    ScheduleError,
    StalwartError,
    StoreUnavailable,
    TaskOptionError,
)

__all__ = ["error_response", "install_error_handlers"]

log = logging.getLogger("stalwart.console")

_STATUS: tuple[tuple[type[StalwartError], int], ...] = (
    (NotFound, 404),
    (ReplayRefused, 409),
    (ActionRefused, 409),
    (QueryError, 400),
    (ScheduleError, 400),
    (TaskOptionError, 400),
    (StoreUnavailable, 503),
)


def _wants_html(request: Request) -> bool:
    path = request.url.path
    return not path.startswith("/api/") and "text/html" in request.headers.get("accept", "")


def error_response(
    request: Request | None, status: int, kind: str, message: str, **extra: Any
) -> Response:
    if request is not None and _wants_html(request):
        from stalwart.console.render import render_error

        return render_error(request, status, message)
    body = {"error": {"status": status, "type": kind, "message": message, **extra}}
    return JSONResponse(body, status_code=status)


async def _stalwart_error(request: Request, exc: Exception) -> Response:
    status = next((code for cls, code in _STATUS if isinstance(exc, cls)), 400)
    return error_response(request, status, type(exc).__name__, str(exc))


async def _validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    details = [
        {"where": ".".join(str(p) for p in e.get("loc", ())), "problem": e.get("msg", "")}
        for e in exc.errors()
    ]
    summary = "; ".join(f"{d['where']}: {d['problem']}" for d in details[:5])
    return error_response(request, 422, "ValidationError", summary or "invalid request",
                          details=details)  # fmt: skip


async def _http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = str(exc.detail) if exc.detail else "error"
    response = error_response(request, exc.status_code, "HTTPError", message)
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


async def _store_down(request: Request, exc: Exception) -> Response:
    store = "coordination store or broker" if isinstance(exc, redis.RedisError) else "database"
    log.warning("console: %s unavailable: %s", store, exc)
    first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
    return error_response(request, 503, "StoreUnavailable", f"the {store} is unavailable: {first}")


async def _bad_text(request: Request, exc: Exception) -> Response:
    return error_response(request, 400, "BadInput", "the request contains text that cannot be "
                          "stored or searched (invalid characters)")  # fmt: skip


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("console: unexpected error on %s %s", request.method, request.url.path)
    return error_response(request, 500, "InternalError", "unexpected error (see the console log)")


def install_error_handlers(api: FastAPI) -> None:
    api.add_exception_handler(StalwartError, _stalwart_error)
    api.add_exception_handler(RequestValidationError, _validation)
    api.add_exception_handler(HTTPException, _http)
    api.add_exception_handler(UnicodeError, _bad_text)
    api.add_exception_handler(sqlalchemy.exc.DataError, _bad_text)
    api.add_exception_handler(redis.RedisError, _store_down)
    api.add_exception_handler(sqlalchemy.exc.OperationalError, _store_down)
    api.add_exception_handler(Exception, _unexpected)
