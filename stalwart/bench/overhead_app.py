"""The Stalwart side of ``stalwart bench overhead``: a no-op task with every reliability
feature on (retry policy, dead letters, an idempotency key unique per call)."""

from __future__ import annotations

from stalwart import RetryPolicy, Stalwart

app = Stalwart("bench-overhead")


@app.task(
    name="bench.noop",
    retry=RetryPolicy(max_retries=3, retry_on=(ConnectionError,)),
    dead_letter=True,
    idempotency_key="bench:{run}:{i}",
    idempotency_ttl=600,
)
def noop(run: str, i: int) -> None:
    return None
