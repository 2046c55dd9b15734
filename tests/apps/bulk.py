"""Tasks for the bulk-publish tests: an idempotent effect per key, and a unique task."""

from __future__ import annotations

from stalwart import Stalwart

app = Stalwart("bulk")


@app.task(idempotency_key="bulk:{n}")
def effect(n: int) -> int:
    app.redis.incr(f"t:bulk-runs:{n}")
    return n


@app.task(unique=True)
def single(thing: object) -> None: ...
