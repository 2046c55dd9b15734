"""``process_webhook``: apply one stored provider event, once (see stalwart.demo.webhooks)."""

from __future__ import annotations

from stalwart import RetryPolicy
from stalwart.demo.app import app
from stalwart.demo.webhooks.apply import apply_event

__all__ = ["process_webhook"]


@app.task(
    name="crm.process_webhook",
    queue="webhooks",
    idempotency_key="webhook:{event_id}",
    retry=RetryPolicy(max_retries=5, initial_delay=0.5),
)
def process_webhook(event_id: int) -> str:
    with app.engine.begin() as db:
        return apply_event(db, event_id)
