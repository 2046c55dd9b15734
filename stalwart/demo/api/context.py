"""What the handlers share: the database engine and the CRM's configuration."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from sqlalchemy.engine import Engine

from stalwart.demo.config import CrmConfig

__all__ = ["CrmContext", "crm"]


@dataclass(frozen=True)
class CrmContext:
    engine: Engine
    config: CrmConfig


def crm(request: Request) -> CrmContext:
    """FastAPI dependency: the app's context."""
    context: CrmContext = request.app.state.crm
    return context
