"""``/``: throughput charts, queues, workers and beats, recorder lag, dead letters, failures."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from stalwart.console.context import Console, ConsoleDep
from stalwart.console.render import page
from stalwart.console.stats import CHART_KINDS
from stalwart.history.lag import recorder_lag
from stalwart.history.query import TaskFilter, list_tasks
from stalwart.ops.queues import list_queues
from stalwart.ops.workers import list_beat_rows, list_worker_rows
from stalwart.worker.heartbeat import list_workers

router = APIRouter(tags=["overview"])
RECENT = 8


def overview(console: Console) -> dict[str, Any]:
    app, now = console.app, time.time()
    infos = list_workers(app.redis)
    lag = recorder_lag(app.redis)
    series = console.stats.series(now)
    failures = [
        t
        for state in ("failed", "dead_lettered")
        for t in list_tasks(app.engine, TaskFilter(state=state), RECENT).tasks
    ]
    failures.sort(key=lambda t: t.updated_at, reverse=True)
    return {
        "last_hour": {
            kind: round(sum(series[kind]) * series["bucket_seconds"]) for kind in CHART_KINDS
        },
        "queues": [
            q.as_dict()
            for q in list_queues(
                app.settings, app.redis, app.engine, str(app.conf.task_default_queue), infos
            )
        ],
        "workers": [w.as_dict() for w in list_worker_rows(app.redis, app.engine, infos=infos)],
        "beats": [b.as_dict() for b in list_beat_rows(app.redis, now)],
        "recorder": {
            "backlog": lag.backlog,
            "oldest_age": lag.oldest_age,
            "ok": lag.ok,
            "text": lag.describe(),
        },
        "dead_letters_waiting": app.dead_letters.count(replayed=False),
        "recent_failures": [t.as_dict() for t in failures[:RECENT]],
    }


@router.get("/api/overview", summary="Queues, workers, beats, recorder lag, dead letters")
def api_overview(console: ConsoleDep) -> dict[str, Any]:
    return overview(console)


@router.get("/api/overview/series", summary="Events per second over the last hour (10 s steps)")
def api_series(console: ConsoleDep) -> dict[str, Any]:
    return console.stats.series()


@router.get("/", include_in_schema=False)
def overview_page(request: Request, console: ConsoleDep) -> HTMLResponse:
    return page(request, "overview.html", "Overview", data=overview(console), live_interval=3)
