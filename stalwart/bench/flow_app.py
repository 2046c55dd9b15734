"""The app ``stalwart bench flow`` runs in its workers: the same no-op task twice,
once without flow control and once with throttle + quota + concurrency checks set
high enough never to bind (so the benchmark measures their cost, not their effect)."""

from __future__ import annotations

from stalwart import Stalwart

app = Stalwart("bench-flow")


@app.task
def plain() -> None:
    """No flow control."""


@app.task(throttle="100000/s", quota="1000000000/d", concurrency=10_000)
def checked() -> None:
    """Throttle, quota and concurrency checked on every execution."""
