"""``/limits``: throttles, quotas, concurrency holders, breakers (with reset), windows."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from stalwart.console.context import ConsoleDep, PrincipalDep
from stalwart.console.render import page
from stalwart.ops import actions
from stalwart.ops.limits import limits_view

router = APIRouter(tags=["limits"])


@router.get("/api/limits", summary="Every limit's state, and every window open or closed")
def api_limits(console: ConsoleDep) -> dict[str, Any]:
    return limits_view(console.app).as_dict()


@router.get("/limits", include_in_schema=False)
def limits_page(request: Request, console: ConsoleDep) -> HTMLResponse:
    data = limits_view(console.app)
    return page(request, "limits.html", "Limits", data=data, live_interval=3)


@router.post("/api/breakers/{name}/reset", summary="Close a circuit breaker now")
def reset_breaker(name: str, console: ConsoleDep, principal: PrincipalDep) -> dict[str, Any]:
    return actions.reset_breaker(console.app, name, actor=principal.actor)
