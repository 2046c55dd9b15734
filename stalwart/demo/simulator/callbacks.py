"""The provider's webhook dispatcher: signed POSTs to the CRM, retried until answered.

Events wait in a heap by due time; a few threads deliver them. Like a real provider
it retries an event the CRM did not acknowledge (non-2xx or no answer), and like a
real provider it sometimes delivers an event twice or out of order.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import random
import threading
import time
from collections import Counter
from typing import Any

import httpx

from stalwart.demo.signing import signed_headers

__all__ = ["Callbacks"]

log = logging.getLogger("stalwart.demo.simulator")
RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0)


class Callbacks:
    """Delivers events to ``url``, signed with ``secret``, from ``threads`` threads."""

    def __init__(self, url: str, secret: str, rng: random.Random, threads: int = 4) -> None:
        self.url = url
        self.secret = secret
        self.rng = rng
        self.stats: Counter[str] = Counter()
        self._heap: list[tuple[float, int, int, dict[str, Any]]] = []
        self._seq = itertools.count()
        self._busy = 0
        self._cond = threading.Condition()
        self._stop = False
        self._http = httpx.Client(timeout=5.0)
        self._threads = [
            threading.Thread(target=self._run, name=f"callbacks-{n}", daemon=True)
            for n in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    def schedule(self, event: dict[str, Any], delay: float, attempt: int = 0) -> None:
        with self._cond:
            due = time.time() + delay
            heapq.heappush(self._heap, (due, next(self._seq), attempt, event))
            self._cond.notify()

    def deliver_now(self, event: dict[str, Any]) -> bool:
        """Deliver in the caller's thread (an event that must beat the send's answer)."""
        return self._post(event)

    @property
    def pending(self) -> int:
        with self._cond:
            return len(self._heap) + self._busy

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stop and (not self._heap or self._heap[0][0] > time.time()):
                    timeout = self._heap[0][0] - time.time() if self._heap else None
                    self._cond.wait(timeout)
                if self._stop:
                    return
                _, _, attempt, event = heapq.heappop(self._heap)
                self._busy += 1
            try:
                if not self._post(event) and attempt < len(RETRY_DELAYS):
                    self.stats["retried"] += 1
                    self.schedule(event, RETRY_DELAYS[attempt], attempt + 1)
                elif attempt >= len(RETRY_DELAYS):
                    self.stats["given_up"] += 1
            finally:
                with self._cond:
                    self._busy -= 1

    def _post(self, event: dict[str, Any]) -> bool:
        body = json.dumps(event, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", **signed_headers(self.secret, body)}
        try:
            answer = self._http.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            self.stats["unanswered"] += 1
            log.debug("webhook %s: %r", event.get("id"), exc)
            return False
        if 200 <= answer.status_code < 300:
            self.stats["delivered"] += 1
            return True
        self.stats[f"refused_{answer.status_code}"] += 1
        return False
