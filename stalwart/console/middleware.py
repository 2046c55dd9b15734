"""Authentication, CSRF and roles, checked once for every request before any handler.

Handlers never check who is asking: by the time one runs, ``request.state.principal``
is set, a state-changing request has shown its CSRF token (unless it came with the
bearer token) and was made by an ``operator``. Public: ``/healthz``, ``/readyz``,
``/static/*``, the login page and ``POST /api/session`` (logging in). Without
authentication, every request must name a loopback host (:mod:`.loopback`).
"""

from __future__ import annotations

import hmac
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from stalwart.console.auth import COOKIE, SESSION_SECONDS, Principal
from stalwart.console.context import Console
from stalwart.console.errors import error_response
from stalwart.console.loopback import is_loopback_host_header

__all__ = ["AuthMiddleware", "set_session_cookie"]

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/login", "/favicon.ico"})
CSRF_HEADER = "x-csrf-token"


def set_session_cookie(response: Response, request: Request, value: str) -> None:
    response.set_cookie(
        COOKIE, value, max_age=SESSION_SECONDS, path="/", httponly=True, samesite="strict",
        secure=request.url.scheme == "https",
    )  # fmt: skip


class AuthMiddleware(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        path = request.url.path
        console: Console = request.app.state.console
        auth = console.auth
        if auth.open and not is_loopback_host_header(request.headers.get("host", "")):
            return error_response(request, 400, "Bad Request", (
                f"refusing Host {request.headers['host']!r}: without authentication the "
                "console answers only to localhost and loopback addresses; set "
                "STALWART_CONSOLE_TOKEN or STALWART_CONSOLE_USERS to use another name"
            ))  # fmt: skip
        if path in PUBLIC_PATHS or path.startswith("/static/"):
            return await call_next(request)
        bearer = auth.bearer(request.headers.get("authorization"))
        if bearer is False:
            return _refuse(request, 401, "the Authorization header is not the console's bearer "
                           "token (STALWART_CONSOLE_TOKEN)")  # fmt: skip
        principal = bearer if isinstance(bearer, Principal) else None
        principal = principal or auth.session(request.cookies.get(COOKIE))
        fresh: Principal | None = None
        if principal is None and auth.open:
            principal = fresh = auth.open_session()
        if path == "/api/session" and request.method == "POST":
            request.state.principal = principal
            return await call_next(request)  # logging in
        if principal is None:
            return _unauthenticated(request)
        if request.method in UNSAFE:
            refused = _check_action(request, principal)
            if refused is not None:
                return refused
        request.state.principal = principal
        response = await call_next(request)
        if fresh is not None:
            set_session_cookie(response, request, auth.cookie_for(fresh))
        return response


def _check_action(request: Request, principal: Principal) -> Response | None:
    if principal.via != "bearer":
        sent = request.headers.get(CSRF_HEADER, "")
        if not principal.csrf or not hmac.compare_digest(sent.encode(), principal.csrf.encode()):
            return _refuse(request, 403, "missing or wrong CSRF token: send the X-CSRF-Token "
                           "header with the token of your session (GET /api/session)")  # fmt: skip
    if not principal.may_act and request.url.path != "/api/session":
        return _refuse(request, 403, f"{principal.name} is a viewer: this action needs the "
                       "operator role")  # fmt: skip
    return None


def _unauthenticated(request: Request) -> Response:
    path = request.url.path
    if request.method == "GET" and not path.startswith("/api/") and path != "/metrics":
        target = path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
    return _refuse(request, 401, "authentication required: log in (POST /api/session) or send "
                   "'Authorization: Bearer <STALWART_CONSOLE_TOKEN>'")  # fmt: skip


def _refuse(request: Request, status: int, message: str) -> Response:
    kind = "Unauthorized" if status == 401 else "Forbidden"
    response = error_response(request, status, kind, message)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="stalwart"'
    return response
