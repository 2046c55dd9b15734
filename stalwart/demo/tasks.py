"""The demo's tasks: SMS sends, contact-import chunks, provider webhooks, a provider sync.

The work is simulated (short sleeps, occasional provider errors) so the demo runs with no
external service; the queueing, acknowledgement and result paths are the real ones.
"""

from __future__ import annotations

import random
import time

from stalwart import Stalwart

app = Stalwart("stalwart-demo")


class ProviderError(Exception):
    """The (simulated) SMS provider refused the request."""


@app.task(name="demo.send_sms")
def send_sms(campaign_id: int, contact_id: int, to: str, body: str) -> dict[str, object]:
    time.sleep(random.uniform(0.01, 0.08))
    if random.random() < 0.05:
        raise ProviderError(f"provider returned 503 for {to}")
    return {"campaign_id": campaign_id, "contact_id": contact_id, "status": "sent"}


@app.task(name="demo.import_chunk")
def import_chunk(import_id: int, chunk: int, rows: int) -> int:
    time.sleep(0.002 * rows)
    return rows


@app.task(name="demo.handle_webhook")
def handle_webhook(event_id: str, kind: str) -> str:
    time.sleep(0.005)
    return f"{kind}:{event_id}"


@app.task(name="demo.provider_sync")
def provider_sync() -> int:
    time.sleep(0.05)
    return random.randint(0, 20)
