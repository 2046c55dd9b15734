"""``/queues`` and ``/workers``: the broker's queues, the workers and the beat processes."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from stalwart.console.context import Console, ConsoleDep
from stalwart.console.render import page
from stalwart.ops.queues import RATE_WINDOW, list_queues
from stalwart.ops.workers import list_beat_rows, list_worker_rows

router = APIRouter(tags=["queues and workers"])


def queues(console: Console) -> dict[str, Any]:
    app = console.app
    rows = list_queues(app.settings, app.redis, app.engine, str(app.conf.task_default_queue))
    return {"queues": [q.as_dict() for q in rows], "rate_window_seconds": RATE_WINDOW}


def workers(console: Console, include_dead: bool) -> dict[str, Any]:
    app = console.app
    return {
        "workers": [w.as_dict() for w in list_worker_rows(app.redis, app.engine, include_dead)],
        "beats": [b.as_dict() for b in list_beat_rows(app.redis, time.time())],
    }


@router.get("/api/queues", summary="Queues: depth, oldest message age, consumers, rates")
def api_queues(console: ConsoleDep) -> dict[str, Any]:
    return queues(console)


@router.get("/queues", include_in_schema=False)
def queues_page(request: Request, console: ConsoleDep) -> HTMLResponse:
    return page(request, "queues.html", "Queues", data=queues(console), live_interval=3)


@router.get("/api/workers", summary="Workers (heartbeats, running tasks) and beats (leader)")
def api_workers(console: ConsoleDep, include_dead: bool = False) -> dict[str, Any]:
    return workers(console, include_dead)


@router.get("/workers", include_in_schema=False)
def workers_page(request: Request, console: ConsoleDep, include_dead: bool = False) -> HTMLResponse:
    data = workers(console, include_dead)
    return page(request, "workers.html", "Workers & beats", data=data, live_interval=3)
