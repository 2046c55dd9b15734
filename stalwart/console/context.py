"""The console's state (one per ASGI app) and the request dependencies handlers take."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from prometheus_client import CollectorRegistry

from stalwart.console.auth import Authenticator, Principal
from stalwart.console.guard import LoginGuard
from stalwart.console.jobs import Jobs
from stalwart.console.metrics import StoreCollector
from stalwart.console.stats import Stats
from stalwart.redaction import Redactor

if TYPE_CHECKING:
    from stalwart.app import Stalwart

__all__ = ["Console", "ConsoleDep", "PrincipalDep"]


@dataclass
class Console:
    app: Stalwart
    auth: Authenticator
    registry: CollectorRegistry
    stats: Stats
    collector: StoreCollector
    jobs: Jobs = field(default_factory=Jobs)
    login_guard: LoginGuard = field(default_factory=LoginGuard)

    @property
    def redactor(self) -> Redactor:
        return Redactor(self.app.settings.redact)


def _console(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


def _principal(request: Request) -> Principal:
    principal: Principal = request.state.principal
    return principal


ConsoleDep = Annotated[Console, Depends(_console)]
PrincipalDep = Annotated[Principal, Depends(_principal)]
