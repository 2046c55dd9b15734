"""The app behind the console tests: tasks that succeed, fail, heal, report progress, tick."""

from __future__ import annotations

import json
import time
from typing import Any

from stalwart import Breaker, Stalwart, Window

app = Stalwart("console-tests")

HEAL_KEY = "console-test:healed"
TICKS_KEY = "console-test:ticks"


@app.task
def ok(x: int) -> int:
    return x


@app.task
def charge(card: str, password: str = "") -> str:
    """Always fails: a declined card (the traceback names it, never the password)."""
    raise ValueError(f"card {card} declined")


@app.task
def flaky(n: int) -> int:
    """Fails until the test 'heals' it (sets HEAL_KEY), then succeeds."""
    if not app.redis.get(HEAL_KEY):
        raise ConnectionError(f"provider down for message {n}")
    return n


@app.task(bind=True)
def crunch(self: object, steps: int, delay: float) -> int:
    for step in range(1, steps + 1):
        time.sleep(delay)
        self.progress(step, steps, f"step {step}")  # type: ignore[attr-defined]
    return steps


@app.task(bind=True)
def tick(self: Any) -> float:
    """Records each run with the slot beat fired it for (empty when run by hand)."""
    slot = getattr(self.request, "stalwart_slot", None) or ""
    app.redis.rpush(TICKS_KEY, json.dumps({"slot": slot, "at": time.time()}))
    return time.time()


@app.task(
    throttle="100/m",
    quota="50/d",
    breaker=Breaker("sms-gateway", failures=2, reset_after=600),
    concurrency=3,
    window=Window("00:00-24:00", days="mon-sun", tz="UTC"),
)
def send_sms(to: str, fail: bool = False) -> str:
    if fail:
        raise ConnectionError("gateway down")
    return to
