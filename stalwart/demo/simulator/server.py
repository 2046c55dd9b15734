"""The simulator's HTTP server (standard library, one thread per request).

Provider API: ``POST /v1/messages``, ``POST /v1/messages/status``. Control, for the
demo and the tests: ``POST /sim/incidents`` (``{"kind": "outage"|"rate_limit",
"seconds": 3}``), ``POST /sim/inbound`` (a text from a phone), ``GET /sim/stats``,
``GET /sim/attempts``, ``GET /healthz``.
"""

from __future__ import annotations

import json
import logging
import random
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any

from stalwart.demo.config import CrmConfig
from stalwart.demo.simulator.callbacks import Callbacks
from stalwart.demo.simulator.faults import FaultPlan
from stalwart.demo.simulator.gateway import Answer, Gateway
from stalwart.demo.simulator.ledger import Ledger

__all__ = ["serve"]

log = logging.getLogger("stalwart.demo.simulator")
MAX_BODY = 64 * 1024


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the demo has a view
        log.debug(format, *args)

    def do_GET(self) -> None:
        gateway = self.server.gateway
        if self.path == "/healthz":
            self._answer((200, {"ok": True}, {}))
        elif self.path == "/sim/stats":
            self._answer((200, self._stats(gateway), {}))
        elif self.path.startswith("/sim/attempts"):
            since = int(self.path.partition("since=")[2] or 0)
            self._answer((200, {"attempts": gateway.ledger.attempts_since(since)}, {}))
        else:
            self._answer((404, {"error": "not_found"}, {}))

    def do_POST(self) -> None:
        gateway = self.server.gateway
        payload = self._json()
        if payload is None:
            return
        if self.path == "/v1/messages":
            auth, key = self.headers.get("Authorization"), self.headers.get("Idempotency-Key")
            self._answer(gateway.send(auth, key, payload))
        elif self.path == "/v1/messages/status":
            ids = payload.get("ids") if isinstance(payload, dict) else None
            if not isinstance(ids, list):
                self._answer((400, {"error": "bad_request"}, {}))
                return
            self._answer((200, {"statuses": gateway.status_of([str(i) for i in ids])}, {}))
        elif self.path == "/sim/incidents":
            try:
                incident = gateway.incidents.start(
                    str(payload["kind"]),
                    float(payload["seconds"]),
                    float(payload.get("retry_after", 1)),
                )
            except (KeyError, TypeError, ValueError) as exc:
                self._answer((400, {"error": str(exc)}, {}))
                return
            self._answer((200, {"kind": incident.kind, "ends": incident.ends}, {}))
        elif self.path == "/sim/inbound":
            event = gateway.inbound(str(payload["from"]), str(payload["to"]), str(payload["body"]))
            self._answer((202, event, {}))
        else:
            self._answer((404, {"error": "not_found"}, {}))

    def _json(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._answer((413, {"error": "too_large"}, {}))
            return None
        try:
            return json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            self._answer((400, {"error": "not_json"}, {}))
            return None

    def _answer(self, answer: Answer) -> None:
        status, body, headers = answer
        data = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client timed out and left (a slow answer): the send stands

    @staticmethod
    def _stats(gateway: Gateway) -> dict[str, Any]:
        return {
            "outcomes": dict(gateway.ledger.outcomes),
            "webhooks": {**gateway.callbacks.stats, "pending": gateway.callbacks.pending},
            "incidents": [vars(i) for i in gateway.incidents.all()],
        }


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], gateway: Gateway) -> None:
        super().__init__(address, _Handler)
        self.gateway = gateway


def serve(
    host: str, port: int, webhook_url: str, ledger_path: Path, plan: FaultPlan, config: CrmConfig
) -> None:
    """Run the simulator until SIGTERM/SIGINT."""
    ledger = Ledger(ledger_path)
    callbacks = Callbacks(webhook_url, config.webhook_secret, random.Random(plan.seed))
    gateway = Gateway(
        plan, ledger, callbacks, api_key=config.provider_key, clock_offset=config.clock_offset
    )
    server = _Server((host, port), gateway)

    def stop(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("provider simulator on http://%s:%d, webhooks to %s", host, port, webhook_url)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        callbacks.stop()
        ledger.close()
        server.server_close()
