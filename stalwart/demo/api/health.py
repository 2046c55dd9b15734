"""Probes: ``/demo/healthz`` (the process answers) and ``/demo/readyz`` (and its database)."""

from __future__ import annotations

from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from stalwart.demo.api.context import CrmContext, crm

__all__ = ["router"]

router = APIRouter()


@router.get("/demo/healthz")
def healthz() -> dict[str, bool]:
    """Liveness: the process serves requests."""
    return {"ok": True}


@router.get("/demo/readyz", responses={503: {"description": "The database is unreachable"}})
def readyz(context: Annotated[CrmContext, Depends(crm)]) -> JSONResponse:
    """Readiness: the database answers."""
    try:
        with context.engine.connect() as db:
            db.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError as exc:
        problem = str(exc).splitlines()[0][:200]
        return JSONResponse({"ok": False, "database": problem}, status_code=503)
    return JSONResponse({"ok": True})
