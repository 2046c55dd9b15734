"""``send_sms``: one campaign message to one contact, under the provider's limits.

Every limit is a task option; the body only talks to the provider:

- ``idempotency_key``: one successful send per (campaign, contact), however often the
  message is delivered (a worker killed mid-send, a relay publishing twice); the same
  key goes to the provider as its ``Idempotency-Key``, so a send the provider accepted
  just before we lost the answer is not sent again either;
- ``quota="125/d"`` per sender number (``limit_key``), counted in New York days;
- ``window``: business hours in New York, US holidays excepted;
- ``throttle``: the provider takes 25/s per sender; we stay at 20/s cluster-wide;
- ``breaker``: shared by every task that calls the provider; after 5 failures in a row
  sends wait (deferred, not failed) until a probe gets through;
- ``retry``: 5xx and timeouts are retried with backoff, then dead-lettered;
  a 429 is a deferral (``RetryAfter``), not a retry.
"""

from __future__ import annotations

import sqlalchemy as sa

from stalwart import Breaker, RetryPolicy
from stalwart.demo import messages
from stalwart.demo.app import app, config
from stalwart.demo.calendar import BUSINESS_HOURS
from stalwart.demo.models import MessageStatus, contacts
from stalwart.demo.provider import (
    InvalidNumber,
    ProviderRejected,
    ProviderUnavailable,
    provider_for,
)

__all__ = ["PROVIDER_BREAKER", "SEND_RETRY", "UnknownMessage", "send_sms"]

PROVIDER_BREAKER = Breaker("sms-provider", failures=5, reset_after=3.0, probe_lease=10.0)
SEND_RETRY = RetryPolicy(
    max_retries=3,
    initial_delay=0.5,
    backoff=2.0,
    backoff_max=60.0,
    jitter=True,
    retry_on=(ProviderUnavailable,),
    give_up_on=(ProviderRejected,),
)


class UnknownMessage(Exception):
    """No message row for this send (it is written in the launch's transaction)."""


@app.task(
    bind=True,
    name="crm.send_sms",
    queue="campaigns",
    idempotency_key="sms:{campaign_id}:{contact_id}",
    quota="125/d",
    limit_key="{sender}",
    throttle="20/s",
    window=BUSINESS_HOURS,
    breaker=PROVIDER_BREAKER,
    retry=SEND_RETRY,
    acks_late=True,
)
def send_sms(
    self: object, campaign_id: int, contact_id: int, sender: str, to: str, body: str
) -> dict[str, str]:
    with app.engine.begin() as db:
        message = messages.find(db, campaign_id, contact_id)
        if message is None:
            raise UnknownMessage(f"no message for campaign {campaign_id}, contact {contact_id}")
        if message["status"] != MessageStatus.QUEUED:
            return {"status": str(message["status"])}  # done before (a replayed send)
        opted_out = db.execute(
            sa.select(contacts.c.opted_out_at).where(contacts.c.id == contact_id)
        ).scalar()
        if opted_out is not None:
            messages.advance(db, campaign_id, contact_id, MessageStatus.OPTED_OUT)
            return {"status": MessageStatus.OPTED_OUT.value}
    provider = provider_for(config)
    try:
        accepted = provider.send(sender, to, body, messages.reference(campaign_id, contact_id))
    except InvalidNumber as exc:
        with app.engine.begin() as db:
            messages.advance(db, campaign_id, contact_id, MessageStatus.INVALID, error=str(exc))
        return {"status": MessageStatus.INVALID.value}
    with app.engine.begin() as db:
        messages.advance(
            db, campaign_id, contact_id, MessageStatus.SENT, provider_id=accepted.provider_id
        )
    return {"status": MessageStatus.SENT.value, "provider_id": accepted.provider_id}
