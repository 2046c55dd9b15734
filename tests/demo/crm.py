"""The CRM's processes for a test: its API, workers and provider simulator, for real.

Each runs as ``python -m ...`` in its own process group (the demo's own
:class:`~stalwart.demo.stack.Stack`), with the test's ``STALWART_*`` settings and
``CRM_*`` settings of its own; all are stopped, group and all, at teardown.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis
import sqlalchemy as sa

from stalwart.db.engine import create_engine_for
from stalwart.db.migrate import upgrade as upgrade_stalwart
from stalwart.demo.calendar import business_offset
from stalwart.demo.config import CrmConfig
from stalwart.demo.migrate import upgrade as upgrade_crm
from stalwart.demo.signing import signed_headers
from stalwart.demo.simulator.faults import FaultPlan
from stalwart.demo.simulator.ledger import LedgerEntry, read_ledger
from stalwart.demo.stack import Stack
from stalwart.settings import Settings
from stalwart.worker.heartbeat import list_workers
from tests.support.services import free_port
from tests.support.workers import base_env, new_hostname, wait_for

__all__ = ["NO_FAULTS", "Crm"]

APP = "stalwart.demo.tasks:app"
# A provider that never fails on its own (a test turns on what it looks at).
NO_FAULTS = FaultPlan(
    invalid_numbers=0,
    carrier_errors=0,
    slow_answers=0,
    delivery_failures=0,
    stop_replies=0,
    duplicate_webhooks=0,
    early_webhooks=0,
)


@dataclass
class Crm:
    """A CRM deployment for one test (start what the test needs)."""

    settings: Settings
    directory: Path
    clock_offset: float | None = None  # None: New York business hours, whenever it runs
    plan: FaultPlan = NO_FAULTS
    provider_timeout: float = 1.0
    api_port: int = field(default_factory=free_port)
    simulator_port: int = field(default_factory=free_port)

    def __post_init__(self) -> None:
        if self.clock_offset is None:
            self.clock_offset = business_offset()
        self.config = CrmConfig(
            provider_url=f"http://127.0.0.1:{self.simulator_port}",
            provider_key="test-key",
            webhook_secret="test-secret",
            clock_offset=self.clock_offset,
            provider_timeout=self.provider_timeout,
        )
        env = base_env(self.settings, self.config.as_env())
        self.directory.mkdir(parents=True, exist_ok=True)
        self.stack = Stack(self.directory, env)
        self.engine = create_engine_for(self.settings.effective_database_url)
        upgrade_stalwart(self.engine)
        upgrade_crm(self.engine)
        self.redis = redis.Redis.from_url(self.settings.effective_redis_url)
        self.api = httpx.Client(base_url=f"http://127.0.0.1:{self.api_port}", timeout=30)
        self.simulator = httpx.Client(base_url=self.config.provider_url, timeout=10)

    # -- processes ------------------------------------------------------------------------

    def start_api(self) -> None:
        self.stack.spawn("api", ["-m", "stalwart.demo", "api", "--port", str(self.api_port)])
        self._wait_http(self.api, "/demo/healthz", "api")

    def start_simulator(self) -> None:
        webhook = f"http://127.0.0.1:{self.api_port}/demo/webhooks/sms"
        self.stack.spawn(
            "simulator",
            ["-m", "stalwart.demo", "simulator", "--port", str(self.simulator_port),
             "--webhook-url", webhook, "--ledger", str(self.ledger_path),
             "--plan", json.dumps(self.plan.as_dict())],
        )  # fmt: skip
        self._wait_http(self.simulator, "/healthz", "simulator")

    def start_worker(self, queues: str, concurrency: int = 2) -> None:
        hostname = new_hostname(queues.split(",", maxsplit=1)[0])
        self.stack.spawn(
            f"worker-{hostname.split('@')[0]}",
            ["-m", "stalwart.cli", "worker", "-A", APP, "-Q", queues, "-c", str(concurrency),
             "-n", hostname, "-l", "INFO"],
        )  # fmt: skip

        def ready() -> bool:
            return self._alive("worker") and hostname in {
                w.hostname for w in list_workers(self.redis)
            }

        wait_for(ready, timeout=60, what=f"worker {hostname}")

    def stop(self) -> None:
        self.api.close()
        self.simulator.close()
        self.stack.stop(timeout=20)
        self.engine.dispose()

    def logs(self) -> str:
        return "\n".join(f"--- {c.name}\n{c.tail(40)}" for c in self.stack.children)

    # -- talking to it ------------------------------------------------------------------

    def webhook(
        self,
        event: Mapping[str, Any] | bytes,
        *,
        secret: str | None = None,
        at: float | None = None,
    ) -> httpx.Response:
        body = event if isinstance(event, bytes) else json.dumps(event).encode()
        headers = signed_headers(secret or self.config.webhook_secret, body, now=at)
        headers["Content-Type"] = "application/json"
        return self.api.post("/demo/webhooks/sms", content=body, headers=headers)

    def scalar(self, query: Any) -> Any:
        with self.engine.connect() as db:
            return db.execute(query).scalar()

    def rows(self, query: Any) -> list[sa.RowMapping]:
        with self.engine.connect() as db:
            return list(db.execute(query).mappings())

    @property
    def ledger_path(self) -> Path:
        return self.directory / "ledger.jsonl"

    def ledger(self) -> list[LedgerEntry]:
        return read_ledger(self.ledger_path)

    def attempts(self) -> list[dict[str, Any]]:
        attempts: list[dict[str, Any]] = self.simulator.get("/sim/attempts").json()["attempts"]
        return attempts

    # -- helpers --------------------------------------------------------------------------

    def _alive(self, prefix: str) -> bool:
        for child in self.stack.children:
            if child.name.startswith(prefix) and not child.alive():
                raise RuntimeError(f"{child.name} exited:\n{child.tail(60)}")
        return True

    def _wait_http(self, client: httpx.Client, path: str, name: str) -> None:
        def ready() -> bool:
            self._alive(name)
            try:
                return client.get(path).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(ready, timeout=60, interval=0.1, what=name)
