"""``/audit``: the operator audit log, newest first (every action, with its user)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from stalwart.audit import list_actions
from stalwart.console.context import Console, ConsoleDep
from stalwart.console.render import page

router = APIRouter(tags=["audit"])

Text = Annotated[str | None, Query(max_length=200)]
Limit = Annotated[int, Query(ge=1, le=1000)]
Before = Annotated[int | None, Query(ge=1, le=2**62, description="Entries older than this id.")]


def entries(
    console: Console, action: str | None, actor: str | None, before: int | None, limit: int
) -> dict[str, Any]:
    rows = list_actions(console.app.engine, limit, action or None, before, actor or None)
    return {
        "entries": [{**r.__dict__, "at": r.at.isoformat()} for r in rows],
        "next_before": rows[-1].id if len(rows) == limit else None,
    }


@router.get("/api/audit", summary="The audit log; action may end with '*' (e.g. dlq.*)")
def api_audit(
    console: ConsoleDep, action: Text = None, actor: Text = None, before: Before = None,
    limit: Limit = 100,
) -> dict[str, Any]:  # fmt: skip
    return entries(console, action, actor, before, limit)


@router.get("/audit", include_in_schema=False)
def audit_page(
    request: Request, console: ConsoleDep, action: Text = None, actor: Text = None,
    before: Before = None,
) -> HTMLResponse:  # fmt: skip
    data = entries(console, action, actor, before, 100)
    query = {k: v for k, v in (("action", action), ("actor", actor)) if v}
    next_url = "/audit?" + urlencode({**query, "before": data["next_before"]})
    return page(request, "audit.html", "Audit log", data=data, f=query, next_url=next_url,
                live_interval=5)  # fmt: skip
