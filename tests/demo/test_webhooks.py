"""``POST /demo/webhooks/sms``: signed or refused, stored once, processed once in any order."""

from __future__ import annotations

import json
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import pytest
import sqlalchemy as sa

from stalwart.demo.models import messages, webhook_events
from stalwart.demo.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from stalwart.history.query import TaskFilter, list_tasks
from stalwart.outbox.tables import outbox
from tests.demo.crm import NO_FAULTS, Crm
from tests.demo.seeding import add_contacts, launch, phones, statuses
from tests.support.workers import wait_for

MakeCrm = Callable[..., Crm]


def delivered(reference: str = "sms:1:1", event_id: str | None = None) -> dict[str, Any]:
    return {
        "id": event_id or f"evt_{uuid.uuid4().hex}",
        "type": "message.delivered",
        "created_at": time.time(),
        "data": {"message_id": "msg_1", "reference": reference, "to": "+12125550142"},
    }


def stored(crm: Crm, event_id: str) -> int:
    query = sa.select(sa.func.count()).where(webhook_events.c.provider_event_id == event_id)
    return int(crm.scalar(query))


# -- the HTTP contract (one API for the module, no worker) ---------------------------------


def test_a_signed_event_is_accepted_in_milliseconds(api_only: Crm) -> None:
    timings = []
    for _ in range(20):
        event = delivered()
        started = time.perf_counter()
        answer = api_only.webhook(event)
        timings.append(time.perf_counter() - started)
        assert answer.status_code == 202, answer.text
        assert answer.json() == {"event": event["id"], "duplicate": False}
        assert stored(api_only, event["id"]) == 1
    # The work is a task's: the handler stores the event and its task, nothing more.
    assert statistics.median(timings) < 0.25, timings


@pytest.mark.parametrize(
    ("name", "headers"),
    [
        ("wrong secret", lambda body: _signed("not-the-secret", body)),
        ("no headers", lambda body: {}),
        ("no signature", lambda body: {TIMESTAMP_HEADER: str(int(time.time()))}),
        ("stale", lambda body: _signed("test-secret", body, time.time() - 301)),
        ("from the future", lambda body: _signed("test-secret", body, time.time() + 301)),
        ("another body's", lambda body: _signed("test-secret", body + b" ")),
        ("not a number", lambda body: {TIMESTAMP_HEADER: "soon", SIGNATURE_HEADER: "v1=00"}),
    ],
)
def test_an_unsigned_or_replayed_request_is_refused_and_not_stored(
    api_only: Crm, name: str, headers: Callable[[bytes], dict[str, str]]
) -> None:
    event = delivered()
    body = json.dumps(event).encode()
    answer = api_only.api.post(
        "/demo/webhooks/sms",
        content=body,
        headers={"Content-Type": "application/json", **headers(body)},
    )
    assert answer.status_code == 401, (name, answer.text)
    assert "webhook refused" in answer.json()["detail"]
    assert stored(api_only, event["id"]) == 0


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"id": "evt_1"}',
        json.dumps({**delivered(), "type": "message.teleported"}).encode(),
        json.dumps({**delivered(), "data": {"message_id": "m"}}).encode(),
        json.dumps({**delivered(), "created_at": "yesterday"}).encode(),
        json.dumps({**delivered(), "id": "x" * 101}).encode(),
        b"\xff\xfe\x00",
    ],
)
def test_a_signed_but_malformed_event_is_422(api_only: Crm, body: bytes) -> None:
    answer = api_only.webhook(body)
    assert answer.status_code == 422, answer.text
    before = api_only.scalar(sa.select(sa.func.count()).select_from(webhook_events))
    assert api_only.webhook(body).status_code == 422
    assert api_only.scalar(sa.select(sa.func.count()).select_from(webhook_events)) == before


def test_an_oversize_body_is_413_whether_or_not_it_says_its_length(api_only: Crm) -> None:
    big = json.dumps({**delivered(), "padding": "x" * 70_000}).encode()
    declared = api_only.webhook(big)
    assert declared.status_code == 413
    assert "larger than 65536 bytes" in declared.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer
        for start in range(0, len(big), 8192):
            yield big[start : start + 8192]

    headers = {"Content-Type": "application/json", **_signed("test-secret", big)}
    streamed = api_only.api.post("/demo/webhooks/sms", content=chunks(), headers=headers)
    assert streamed.status_code == 413


def test_fifty_concurrent_deliveries_of_one_event_store_it_once(api_only: Crm) -> None:
    event = delivered()
    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(lambda _: api_only.webhook(event), range(50)))
    assert [a.status_code for a in answers] == [202] * 50
    assert sorted(a.json()["duplicate"] for a in answers) == [False] + [True] * 49
    assert stored(api_only, event["id"]) == 1
    # ... and one process_webhook task waits in the outbox for it (no worker runs here).
    [row_id] = api_only.rows(
        sa.select(webhook_events.c.id).where(webhook_events.c.provider_event_id == event["id"])
    )
    query = sa.select(outbox.c.args).where(outbox.c.name == "crm.process_webhook")
    assert [r["args"] for r in api_only.rows(query)].count([row_id["id"]]) == 1


# -- processing, with a worker, on both durable stores -------------------------------------


def test_delivered_before_sent_and_every_duplicate_are_applied_once(
    make_crm: MakeCrm, database_url: str
) -> None:
    # Every delivery webhook is sent before the send is even answered (the answer then
    # takes 4s, room for a slow machine to apply the delivery), and every webhook is
    # delivered twice.
    plan = replace(
        NO_FAULTS, early_webhooks=1.0, duplicate_webhooks=1.0, slow_answers=1.0, slow_seconds=4.0
    )
    crm = make_crm(database_url, plan=plan, provider_timeout=10.0)
    crm.start_api()
    crm.start_simulator()
    crm.start_worker("campaigns", concurrency=3)
    crm.start_worker("webhooks", concurrency=2)
    add_contacts(crm, phones(6))
    campaign = launch(crm, "+16465550100")

    wait_for(
        lambda: set(statuses(crm, campaign).values()) == {"delivered"},
        timeout=60,
        what="every message delivered",
    )
    events = crm.rows(sa.select(webhook_events))
    assert len(events) == 6  # twelve deliveries, six events
    assert len(crm.ledger()) == 6
    # Each delivery was applied while its send still waited for the provider's answer;
    # the send's "sent" came after and did not move the message back.
    applied = {e["payload"]["data"]["reference"]: float(e["processed_at"]) for e in events}
    sends = {t.task_id: t.finished_at.timestamp() for t in _finished(crm, "crm.send_sms", 6)}
    query = sa.select(messages.c.contact_id, messages.c.task_id).where(
        messages.c.campaign_id == campaign
    )
    for row in crm.rows(query):
        assert applied[f"sms:{campaign}:{row['contact_id']}"] < sends[row["task_id"]]
    assert len(_finished(crm, "crm.process_webhook", 6)) == 6  # one run per stored event


@pytest.mark.parametrize(
    "database_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)], indirect=True
)
def test_stop_opts_out_and_no_later_message_goes_to_that_contact(
    make_crm: MakeCrm, database_url: str
) -> None:
    crm = make_crm(database_url)
    crm.start_api()
    crm.start_simulator()
    crm.start_worker("webhooks,maintenance")
    numbers = phones(4, start=100)
    add_contacts(crm, numbers)
    # Launched while no campaigns worker runs: the sends wait in their queue.
    first = launch(crm, "+16465550101")
    stop = {"from": numbers[0], "to": "+16465550101", "body": " stop "}
    assert crm.simulator.post("/sim/inbound", json=stop).status_code == 202
    wait_for(lambda: _opted_out(crm) == [numbers[0]], timeout=30, what="the opt-out")
    second = launch(crm, "+16465550101")  # after the STOP: not even queued for them
    assert statuses(crm, second)[numbers[0]] == "opted_out"

    crm.start_worker("campaigns")
    wait_for(
        lambda: "queued" not in [*statuses(crm, first).values(), *statuses(crm, second).values()],
        timeout=60,
        what="every send",
    )
    assert statuses(crm, first)[numbers[0]] == "opted_out"  # checked again at send time
    sent_to = sorted(entry.to for entry in crm.ledger())
    assert sent_to == sorted(numbers[1:] * 2)


def _opted_out(crm: Crm) -> list[str]:
    from stalwart.demo.models import contacts

    query = sa.select(contacts.c.phone).where(contacts.c.opted_out_at.is_not(None))
    return [str(r["phone"]) for r in crm.rows(query)]


def _finished(crm: Crm, name: str, count: int) -> list[Any]:
    """The history of ``count`` succeeded tasks named ``name`` (once the recorder has them)."""
    from stalwart.history.query import get_task

    def done() -> list[Any]:
        page = list_tasks(crm.engine, TaskFilter(name=name, state="succeeded"), limit=100)
        return page.tasks if len(page.tasks) >= count else []

    summaries = wait_for(done, timeout=30, what=f"{count} {name} in history")
    assert isinstance(summaries, list)
    assert len(summaries) == count
    return [get_task(crm.engine, s.task_id) for s in summaries]


def _signed(secret: str, body: bytes, at: float | None = None) -> dict[str, str]:
    timestamp = str(int(time.time() if at is None else at))
    return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: sign(secret, timestamp, body)}
