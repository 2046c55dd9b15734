"""Tasks for the flow-control tests. ``register(app)`` builds them on any app, so a
test process can publish them with its own settings while the worker imports
``tests.apps.flow:app`` (settings from the environment the test gives it)."""

from __future__ import annotations

import json
import os
import time
from types import SimpleNamespace
from typing import Any

from stalwart import Breaker, Concurrency, Deferred, RetryAfter, Stalwart, Window
from stalwart.limits.clock import use_clock
from stalwart.middleware.flow import admitted_at

CLOCK_OFFSET = "test:clock_offset"
CLOCK_FROZEN = "test:clock_frozen"
# Long enough that a loaded machine does everything the tests do inside them.
GATEWAY_RESET = 6.0  # the gateway breaker's reset_after
PROVIDER_PAUSE = 6.0  # the provider's RetryAfter


def register(app: Stalwart) -> SimpleNamespace:
    def record(name: str, **fields: Any) -> None:
        app.redis.rpush(f"test:{name}", json.dumps(fields))

    def offset_clock() -> float:
        """The workers' clock: frozen at a value, or real time plus an offset."""
        frozen, offset = app.redis.mget(CLOCK_FROZEN, CLOCK_OFFSET)
        if frozen is not None:
            return float(frozen)
        return time.time() + float(offset or 0)

    use_clock(app, offset_clock)

    @app.task(shared=False, bind=True, throttle="20/s")
    def throttled(self: Any, n: int) -> None:
        record("throttled", n=n, admitted=admitted_at(self), started=time.time())

    @app.task(shared=False, bind=True, quota="125/d", limit_key="{sender}")
    def send(self: Any, sender: str, n: int) -> None:
        record("send", sender=sender, n=n, at=offset_clock(), retries=self.request.retries)

    @app.task(shared=False, bind=True, concurrency=Concurrency(2, lease=4))
    def exclusive(self: Any, seconds: float, n: int) -> None:
        running = app.redis.incr("test:running")
        app.redis.rpush("test:running_max", running)
        record("exclusive_start", n=n, pid=os.getpid(), at=time.time())
        try:
            time.sleep(seconds)
        finally:
            app.redis.decr("test:running")
        record("exclusive_end", n=n, at=time.time())

    @app.task(shared=False, bind=True, unique=True)
    def singleton(self: Any, x: int) -> None:
        record("singleton_start", x=x, id=self.request.id, at=time.time())
        time.sleep(0.3)
        record("singleton_end", x=x, at=time.time())

    @app.task(
        shared=False, bind=True, breaker=Breaker("gateway", failures=3, reset_after=GATEWAY_RESET)
    )
    def call_gateway(self: Any, n: int) -> None:
        record("gateway_call", n=n, at=time.time())
        if app.redis.get("test:gateway_down"):
            raise ConnectionError("gateway down")
        record("gateway_ok", n=n, at=time.time())

    @app.task(shared=False, bind=True)
    def patient(self: Any, times: int) -> int:
        count = app.redis.incr(f"test:patient:{self.request.id}")
        record("patient", count=count, retries=self.request.retries)
        if count <= times:
            raise Deferred(time.time() + 0.05, "test")
        return int(self.request.retries or 0)

    @app.task(shared=False, bind=True)
    def delayed(self: Any, delay: float) -> None:
        if app.redis.set(f"test:delayed:{self.request.id}", 1, nx=True):
            due = time.time() + delay
            app.redis.set(f"test:due:{self.request.id}", repr(due))
            raise Deferred(due, "test")
        due = float(app.redis.get(f"test:due:{self.request.id}") or 0)
        record("delayed", id=self.request.id, due=due, at=time.time())

    @app.task(shared=False, bind=True, throttle="1000/s", limit_key="{sender}")
    def provider(self: Any, sender: str, n: int) -> None:
        if sender == "A" and app.redis.set(f"test:429:{sender}", 1, nx=True):
            record("provider_429", sender=sender, n=n, at=time.time())
            raise RetryAfter(PROVIDER_PAUSE, "429")
        record("provider", sender=sender, n=n, at=time.time(), retries=self.request.retries)

    @app.task(shared=False, bind=True, window=Window("00:00-24:00", days="mon-sun"))
    def anytime(self: Any, n: int) -> None:
        record("anytime", n=n)

    @app.task(
        shared=False,
        bind=True,
        window=Window("09:00-18:00", days="mon-fri", tz="America/New_York", holidays="US"),
    )
    def business(self: Any, n: int) -> None:
        record("business", n=n, at=offset_clock())

    @app.task(shared=False, bind=True, quota="5/d", idempotency_key="quota-once:{n}")
    def counted(self: Any, n: int) -> int:
        record("counted", n=n, id=self.request.id, at=time.time())
        time.sleep(0.1)
        return n

    @app.task(shared=False, bind=True)
    def plain(self: Any, n: int) -> None:
        record("plain", n=n, at=time.time(), priority=self.request.delivery_info.get("priority"))

    return SimpleNamespace(
        **{
            t.name.rsplit(".", 1)[-1]: t
            for t in (
                throttled,
                send,
                exclusive,
                singleton,
                call_gateway,
                patient,
                delayed,
                provider,
                anytime,
                business,
                counted,
                plain,
            )
        }
    )


app = Stalwart("flowtests")
tasks = register(app)
