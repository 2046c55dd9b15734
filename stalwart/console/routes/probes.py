"""``/healthz`` (the process answers), ``/readyz`` (stores reachable, a worker), ``/metrics``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from stalwart.console.context import ConsoleDep
from stalwart.health import check_health

router = APIRouter(tags=["probes"])

READY_CHECKS = ("broker", "coordination", "database", "workers")


@router.get("/healthz", summary="Liveness: the console process answers (no store is read)")
def healthz() -> dict[str, Any]:
    return {"ok": True}


@router.get(
    "/readyz",
    summary="Readiness: broker, coordination store and database reachable, a worker alive",
    responses={503: {"description": "not ready; the body says which check failed"}},
)
def readyz(console: ConsoleDep) -> JSONResponse:
    report = check_health(console.app.settings)
    checks = [c for c in report.checks if c.name in READY_CHECKS]
    ready = all(c.ok for c in checks)
    body = {"ok": ready, "checks": [c.__dict__ for c in checks]}
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(console: ConsoleDep) -> Response:
    return Response(generate_latest(console.registry), media_type=CONTENT_TYPE_LATEST)
