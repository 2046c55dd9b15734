"""``send_sms``'s limits, seen from the provider's side: its ledger and its attempt log.

Each test runs the real CRM (API, workers, provider simulator) on a calendar clock of
its choosing (``CRM_CLOCK_OFFSET``: the workers and the provider read the same one).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from stalwart.demo.calendar import BUSINESS_HOURS, NEW_YORK, local
from stalwart.demo.models import messages
from stalwart.demo.tasks.sending import PROVIDER_BREAKER
from stalwart.errors import NotFound
from stalwart.history.query import get_task
from tests.demo.crm import Crm
from tests.demo.seeding import add_contacts, launch, phones, statuses
from tests.support.workers import wait_for

MakeCrm = Callable[..., Crm]
SENDER = "+16465550150"


def deferrals(crm: Crm, campaign: int) -> Counter[str]:
    """Why this campaign's sends were deferred, counted over their timelines."""
    reasons: Counter[str] = Counter()
    query = sa.select(messages.c.task_id).where(messages.c.campaign_id == campaign)
    for row in crm.rows(query):
        try:
            task = get_task(crm.engine, str(row["task_id"]))
        except NotFound:
            continue
        reasons.update(e.fields.get("reason", "") for e in task.events if e.kind == "deferred")
    return reasons


def waiting(crm: Crm, campaign: int, reason: str) -> list[Any]:
    """The campaign's unsent tasks once every one rests deferred by ``reason`` (else [])."""
    query = sa.select(messages.c.task_id).where(
        messages.c.campaign_id == campaign, messages.c.status == "queued"
    )
    found = []
    for row in crm.rows(query):
        try:
            task = get_task(crm.engine, str(row["task_id"]))
        except NotFound:
            return []
        if task.state != "deferred" or task.detail.get("reason") != reason:
            return []
        found.append(task)
    return found


def test_quota_and_throttle_hold_at_the_provider(make_crm: MakeCrm) -> None:
    crm = make_crm()
    crm.start_api()
    crm.start_simulator()
    crm.start_worker("campaigns", concurrency=4)
    add_contacts(crm, phones(140))
    campaign = launch(crm, SENDER)

    wait_for(lambda: len(crm.ledger()) >= 125 and waiting(crm, campaign, "quota"), timeout=90,
             what="125 sends and the rest deferred by the quota")  # fmt: skip
    rest = waiting(crm, campaign, "quota")
    ledger = crm.ledger()
    # Quota: exactly a day's 125 went out, the other 15 wait for the next New York day.
    per_day = Counter((e.sender, local(e.at).date()) for e in ledger)
    assert list(per_day.values()) == [125]
    assert len(rest) == 15
    next_midnight = datetime.combine(
        local(ledger[0].at).date() + timedelta(days=1), datetime.min.time(), tzinfo=NEW_YORK
    ).timestamp()
    for task in rest:  # until = the next midnight in New York, on the same clock
        assert abs(task.detail["until"] + crm.config.clock_offset - next_midnight) < 60
    # Throttle (20/s for the cluster): the provider (25/s per sender) never had to refuse,
    # and the 125 sends were spread over more than six seconds.
    outcomes = Counter(a["outcome"] for a in crm.attempts())
    assert outcomes == {"accepted": 125}
    times = sorted(e.real_at for e in ledger)
    assert max(_in_any_second(times)) <= 25
    assert times[-1] - times[0] > 5.0
    assert statuses(crm, campaign).values() and len(ledger) == len({e.key for e in ledger})


def test_no_send_before_business_hours_open(make_crm: MakeCrm) -> None:
    opens = _next_opening()
    lead = 40.0  # seconds before 09:00 on the calendar clock: room for a slow start
    crm = make_crm(clock_offset=opens - lead - time.time())  # 08:59:20 on a business day
    crm.start_api()
    crm.start_simulator()
    crm.start_worker("campaigns", concurrency=2)
    add_contacts(crm, phones(30, start=500))
    campaign = launch(crm, SENDER)
    launched_at = time.time() + crm.config.clock_offset
    assert launched_at < opens, f"the stack took more than {lead}s to start: nothing was tested"

    wait_for(lambda: len(crm.ledger()) == 30, timeout=lead + 90, what="every send, after 09:00")
    ledger = crm.ledger()
    assert min(e.at for e in ledger) >= opens
    assert all(BUSINESS_HOURS.is_open(e.at, NEW_YORK) for e in ledger)
    # Each one was held back by the window (history is written by the recorder: it may lag).
    wait_for(lambda: deferrals(crm, campaign)["window"] == 30, timeout=60, what="30 deferrals")


def test_the_breaker_spares_the_provider_during_an_outage(make_crm: MakeCrm) -> None:
    crm = make_crm()
    crm.start_api()
    crm.start_simulator()
    crm.start_worker("campaigns", concurrency=4)
    add_contacts(crm, phones(60, start=800))
    # Long enough that the first sends meet it on a slow machine (it starts now).
    seconds = 8.0
    outage = crm.simulator.post("/sim/incidents", json={"kind": "outage", "seconds": seconds})
    assert outage.status_code == 200
    campaign = launch(crm, SENDER)

    wait_for(lambda: "queued" not in statuses(crm, campaign).values(), timeout=90,
             what="every send to end")  # fmt: skip
    refused = [a for a in crm.attempts() if a["outcome"] == "outage"]
    # Without the breaker the throttle alone would let every send (and its retries) hit
    # the dead provider; with it: the failures that open it, a probe per reset_after,
    # and what was already running.
    probes = seconds / PROVIDER_BREAKER.reset_after + 1
    assert len(refused) <= PROVIDER_BREAKER.failures + probes + 4, len(refused)
    wait_for(lambda: deferrals(crm, campaign)["breaker"] > 0, timeout=60, what="breaker deferrals")
    sent = Counter(e.key for e in crm.ledger())
    assert set(sent.values()) == {1}
    dead = {d.task_id for d in _dead_letters(crm)}
    assert len(sent) + len(dead) == 60  # each message sent once, or dead-lettered


def _in_any_second(times: list[float]) -> list[int]:
    counts, start = [], 0
    for end, at in enumerate(times):
        while times[start] <= at - 1.0:
            start += 1
        counts.append(end - start + 1)
    return counts


def _next_opening() -> float:
    """09:00 in New York on the first business day after today."""
    midnight = datetime.combine(
        local(time.time()).date() + timedelta(days=1), datetime.min.time(), tzinfo=NEW_YORK
    )
    opens = BUSINESS_HOURS.next_open(midnight.timestamp(), NEW_YORK)  # midnight is closed
    assert opens is not None
    return opens


def _dead_letters(crm: Crm) -> list[Any]:
    from stalwart import Stalwart

    app = Stalwart("limits-test", settings=crm.settings)
    return app.dead_letters.list(name="crm.send_sms", limit=None)
