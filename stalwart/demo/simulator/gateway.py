"""The provider's behaviour, HTTP aside: accept a send (or fail as planned), report on it.

``send`` returns ``(status, body, headers)``; the server turns that into a response.
Sends are serialised per idempotency key, so two deliveries of one send arriving
together get one acceptance and the same answer.
"""

from __future__ import annotations

import itertools
import random
import secrets
import threading
import time
from collections import defaultdict, deque
from typing import Any

from stalwart.demo.simulator.callbacks import Callbacks
from stalwart.demo.simulator.faults import FaultPlan, Incidents, chosen
from stalwart.demo.simulator.ledger import Attempt, Ledger, LedgerEntry

__all__ = ["Answer", "Gateway"]

Answer = tuple[int, dict[str, Any], dict[str, str]]


class Gateway:
    def __init__(
        self,
        plan: FaultPlan,
        ledger: Ledger,
        callbacks: Callbacks,
        *,
        api_key: str,
        clock_offset: float = 0.0,
    ) -> None:
        self.plan = plan
        self.ledger = ledger
        self.callbacks = callbacks
        self.incidents = Incidents()
        self.api_key = api_key
        self.clock_offset = clock_offset
        self.rng = random.Random(plan.seed)
        self.statuses: dict[str, str] = {}
        self._answers: dict[str, Answer] = {}
        self._key_locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
        self._lock = threading.Lock()
        self._recent: defaultdict[str, deque[float]] = defaultdict(deque)
        # Ids are unique across runs, as a real provider's are (the CRM dedups on them).
        self._prefix = secrets.token_hex(4)
        self._ids = itertools.count(1)
        self._events = itertools.count(1)

    # -- sending ----------------------------------------------------------------------

    def send(self, authorization: str | None, key: str | None, payload: Any) -> Answer:
        if authorization != f"Bearer {self.api_key}":
            return 401, {"error": "unauthorized"}, {}
        problem = _check(payload)
        if problem or not key:
            return 400, {"error": "bad_request", "detail": problem or "Idempotency-Key missing"}, {}
        with self._lock:
            lock = self._key_locks[key]
        with lock:
            return self._send(key, payload)

    def _send(self, key: str, payload: dict[str, Any]) -> Answer:
        sender, to = payload["from"], payload["to"]
        answered = self._answers.get(key)
        if answered is not None:
            self._attempt(key, sender, "replayed")
            return answered
        refused = self._refusal(sender, to)
        if refused is not None:
            self._attempt(key, sender, refused[1].get("error", "refused"))
            return refused
        message_id = f"msg_{self._prefix}{next(self._ids):07d}"
        now = time.time()
        self.ledger.accept(LedgerEntry(message_id, key, sender, to, now + self.clock_offset, now))
        answer: Answer = (201, {"id": message_id, "status": "accepted"}, {})
        self._answers[key] = answer
        self.statuses[message_id] = "sent"
        self._attempt(key, sender, "accepted")
        self._report(message_id, key, payload)
        if chosen(key, self.plan.slow_answers, self.plan.seed + "slow"):
            time.sleep(self.plan.slow_seconds)  # accepted, but the client gives up first
        return answer

    def _refusal(self, sender: str, to: str) -> Answer | None:
        for incident in self.incidents.active():
            if incident.kind == "outage":
                return 503, {"error": "outage"}, {}
            retry = {"Retry-After": f"{incident.retry_after:g}"}
            return 429, {"error": "rate_limited"}, retry
        if not self._within_rate(sender):
            return 429, {"error": "rate_limited"}, {"Retry-After": "1"}
        if chosen(to, self.plan.invalid_numbers, self.plan.seed + "invalid"):
            return 400, {"error": "invalid_number"}, {}
        if chosen(to, self.plan.carrier_errors, self.plan.seed + "carrier"):
            return 500, {"error": "carrier_error"}, {}
        return None

    def _within_rate(self, sender: str) -> bool:
        now = time.time()
        with self._lock:
            recent = self._recent[sender]
            while recent and recent[0] <= now - 1.0:
                recent.popleft()
            if len(recent) >= self.plan.rate_limit:
                return False
            recent.append(now)
            return True

    def _attempt(self, key: str, sender: str, outcome: str) -> None:
        now = time.time()
        self.ledger.attempt(Attempt(key, sender, outcome, now + self.clock_offset, now))

    # -- webhooks ---------------------------------------------------------------------

    def _report(self, message_id: str, key: str, payload: dict[str, Any]) -> None:
        failed = chosen(payload["to"], self.plan.delivery_failures, self.plan.seed + "fail")
        data = {"message_id": message_id, "reference": payload.get("reference") or key}
        data |= {"to": payload["to"], "from": payload["from"]}
        if failed:
            data["error"] = "carrier_unreachable"
        event = self._event("message.failed" if failed else "message.delivered", data)
        self.statuses[message_id] = "failed" if failed else "delivered"
        if chosen(key, self.plan.early_webhooks, self.plan.seed + "early"):
            self.callbacks.deliver_now(event)  # before the send is even answered
        else:
            self.callbacks.schedule(event, self.rng.uniform(0.05, 0.8))
        if chosen(key, self.plan.duplicate_webhooks, self.plan.seed + "dup"):
            self.callbacks.schedule(event, self.rng.uniform(0.2, 2.0))
        if not failed and chosen(payload["to"], self.plan.stop_replies, self.plan.seed + "stop"):
            self.inbound(payload["to"], payload["from"], "STOP", delay=self.rng.uniform(0.5, 2.0))

    def inbound(self, sender: str, to: str, body: str, delay: float = 0.0) -> dict[str, Any]:
        """A text from a phone to one of the CRM's numbers (a ``message.received`` event)."""
        message_id = f"in_{self._prefix}{next(self._ids):07d}"
        data = {"message_id": message_id, "from": sender, "to": to, "body": body}
        event = self._event("message.received", data)
        self.callbacks.schedule(event, delay)
        return event

    def _event(self, kind: str, data: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": f"evt_{self._prefix}{next(self._events):08d}",
            "type": kind,
            "created_at": time.time(),
            "data": data,
        }

    def status_of(self, ids: list[str]) -> dict[str, str]:
        return {i: self.statuses[i] for i in ids if i in self.statuses}


def _check(payload: Any) -> str | None:
    if not isinstance(payload, dict):
        return "expected a JSON object"
    for name in ("from", "to", "body"):
        if not isinstance(payload.get(name), str) or not payload[name]:
            return f"{name!r} must be a non-empty string"
    return None
