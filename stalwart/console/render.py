"""Server-rendered pages: Jinja2 templates from the package, and their small filters.

A page template fills the ``live`` block; a request with the header ``X-Live: 1`` (the
page's own polling, see ``static/console.js``) gets that block alone, so a page updates
in place without a full reload and without a second rendering of the same data in JS.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

__all__ = ["NAV", "page", "render_error", "templates"]

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
NAV = (
    ("/", "Overview"), ("/tasks", "Tasks"), ("/dlq", "Dead letters"),
    ("/schedules", "Schedules"), ("/limits", "Limits"), ("/queues", "Queues"),
    ("/workers", "Workers & beats"), ("/audit", "Audit log"),
)  # fmt: skip


def _when(value: Any) -> str:
    """A time as ``2024-05-01 10:00:00Z (3m ago)``; accepts datetimes and epochs."""
    if value is None or value == "":
        return "-"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return str(value)
    epoch = value.timestamp() if isinstance(value, datetime) else float(value)
    stamp = datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    delta = epoch - time.time()
    return f"{stamp} ({'in ' + _span(delta) if delta >= 0 else _span(-delta) + ' ago'})"


def _span(seconds: float) -> str:
    for size, unit in ((86_400, "d"), (3600, "h"), (60, "m")):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}" if unit != "m" else f"{seconds / size:.0f}m"
    return f"{seconds:.0f}s"


def _seconds(value: Any) -> str:
    return "-" if value is None else _span(float(value))


def _pretty(value: Any) -> str:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return str(value)
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


templates.env.filters["when"] = _when
templates.env.filters["seconds"] = _seconds
templates.env.filters["pretty"] = _pretty


def page(request: Request, template: str, title: str, **context: Any) -> HTMLResponse:
    principal = getattr(request.state, "principal", None)
    return templates.TemplateResponse(
        request,
        template,
        {
            "title": title,
            "nav": NAV,
            "principal": principal,
            "fragment": request.headers.get("x-live") == "1",
            **context,
        },
    )


def render_error(request: Request, status: int, message: str) -> HTMLResponse:
    response = page(request, "error.html", f"Error {status}", status=status, message=message)
    response.status_code = status
    return response
