"""Logging in and out: ``/login`` (the page), ``/api/session`` (the JSON API)."""

from __future__ import annotations

import math
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from stalwart.console.auth import COOKIE, Authenticator, Principal
from stalwart.console.context import ConsoleDep, PrincipalDep
from stalwart.console.errors import error_response
from stalwart.console.middleware import set_session_cookie
from stalwart.console.render import page
from stalwart.console.schemas import LoginIn

router = APIRouter(tags=["session"])


@router.get("/login", include_in_schema=False)
def login_page(request: Request, console: ConsoleDep, next: str = "/") -> HTMLResponse:
    safe_next = next if next.startswith("/") and not next.startswith("//") else "/"
    return page(request, "login.html", "Log in", next_url=safe_next, open=console.auth.open)


@router.post(
    "/api/session",
    summary="Log in (sets the session cookie; returns the CSRF token)",
    responses={429: {"description": "too many failed logins from this address as this user"}},
)
def login(request: Request, body: LoginIn, console: ConsoleDep) -> Response:
    auth = console.auth
    if auth.open:
        return _session(request, auth, auth.open_session())
    address = request.client.host if request.client is not None else "-"
    guard = console.login_guard
    wait = guard.admit(address, body.username)  # counted as a failure until it succeeds
    if wait is not None:
        return _too_many(body.username, address, wait)
    principal = auth.login(body.username, body.password)
    if principal is None:
        return error_response(None, 401, "Unauthorized", "wrong user name or password")
    guard.succeeded(address, body.username)
    return _session(request, auth, principal)


def _session(request: Request, auth: Authenticator, principal: Principal) -> Response:
    response = JSONResponse(
        {"user": principal.name, "role": principal.role, "csrf_token": principal.csrf}
    )
    set_session_cookie(response, request, auth.cookie_for(principal))
    return response


def _too_many(name: str, address: str, wait: float) -> Response:
    seconds = math.ceil(wait)
    message = f"too many failed logins as {name!r} from {address}: try again in {seconds} s"
    response = error_response(None, 429, "Too Many Requests", message, retry_after=seconds)
    response.headers["Retry-After"] = str(seconds)
    return response


@router.get("/api/session", summary="Who is logged in, with the CSRF token of the session")
def whoami(principal: PrincipalDep) -> dict[str, Any]:
    return {
        "user": principal.name, "role": principal.role, "via": principal.via,
        "csrf_token": principal.csrf,
    }  # fmt: skip


@router.delete("/api/session", summary="Log out")
def logout() -> Response:
    response = JSONResponse({"logged_out": True})
    response.delete_cookie(COOKIE, path="/")
    return response
