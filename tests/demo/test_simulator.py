"""The provider simulator behaves like a provider: idempotency keys, a ledger of what it
accepted, deterministic per-number faults, its own rate limit, ids unique across runs."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from stalwart.demo.simulator.callbacks import Callbacks
from stalwart.demo.simulator.faults import FaultPlan
from stalwart.demo.simulator.gateway import Answer, Gateway
from stalwart.demo.simulator.ledger import Ledger, read_ledger
from tests.demo.crm import NO_FAULTS

AUTH = "Bearer key"
SENDER = "+16465550100"
MakeGateway = Callable[..., Gateway]


@pytest.fixture
def make_gateway(tmp_path: Path) -> Iterator[MakeGateway]:
    made: list[Gateway] = []

    def make(plan: FaultPlan = NO_FAULTS, name: str = "ledger") -> Gateway:
        # Webhooks go nowhere here (port 1): these tests look at the provider's side only.
        callbacks = Callbacks("http://127.0.0.1:1/hook", "secret", random.Random(1), threads=1)
        gateway = Gateway(plan, Ledger(tmp_path / f"{name}.jsonl"), callbacks, api_key="key")
        made.append(gateway)
        return gateway

    yield make
    for gateway in made:
        gateway.callbacks.stop()
        gateway.ledger.close()


def send(gateway: Gateway, key: str, to: str = "+12125550142", sender: str = SENDER) -> Answer:
    return gateway.send(AUTH, key, {"from": sender, "to": to, "body": "hi", "reference": key})


def test_a_replayed_idempotency_key_gets_the_first_answer_and_is_not_sent_again(
    make_gateway: MakeGateway,
    tmp_path: Path,
) -> None:
    gateway = make_gateway()
    first = send(gateway, "sms:1:1")
    again = send(gateway, "sms:1:1")
    assert first[0] == 201 and again == first
    assert [e.key for e in read_ledger(tmp_path / "ledger.jsonl")] == ["sms:1:1"]
    assert dict(gateway.ledger.outcomes) == {"accepted": 1, "replayed": 1}


def test_requests_without_key_or_credentials_are_refused(make_gateway: MakeGateway) -> None:
    gateway = make_gateway()
    assert gateway.send("Bearer wrong", "k", {})[0] == 401
    assert gateway.send(AUTH, None, {"from": "a", "to": "b", "body": "c"})[0] == 400
    assert gateway.send(AUTH, "k", {"from": "a", "to": "", "body": "c"})[0] == 400


def test_faults_are_per_number_and_the_same_every_time(make_gateway: MakeGateway) -> None:
    plan = replace(NO_FAULTS, invalid_numbers=0.5, rate_limit=1000, seed="s")
    gateway = make_gateway(plan)
    answers = {n: send(gateway, f"k{n}", to=f"+1212555{n:04d}")[0] for n in range(40)}
    assert set(answers.values()) == {201, 400}
    again = make_gateway(plan, name="again")
    assert {n: send(again, f"x{n}", to=f"+1212555{n:04d}")[0] for n in range(40)} == answers


def test_the_provider_rate_limits_each_sender_and_incidents_refuse_everything(
    make_gateway: MakeGateway,
) -> None:
    gateway = make_gateway(replace(NO_FAULTS, rate_limit=5))
    codes = [send(gateway, f"k{n}", to=f"+1212555{n:04d}")[0] for n in range(7)]
    assert codes == [201] * 5 + [429] * 2
    assert send(gateway, "other", sender="+16465550199")[0] == 201  # another sender's limit
    gateway.incidents.start("outage", 60)
    assert send(gateway, "during", sender="+16465550198")[0] == 503


def test_ids_are_unique_across_runs(make_gateway: MakeGateway) -> None:
    one, two = make_gateway(name="one"), make_gateway(name="two")
    assert send(one, "k")[1]["id"] != send(two, "k")[1]["id"]
    assert (
        one.inbound("+12125550142", "+16465550100", "STOP")["id"]
        != two.inbound("+12125550142", "+16465550100", "STOP")["id"]
    )
