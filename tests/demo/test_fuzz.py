"""Fuzzing the CRM's API: whatever arrives, the answer is never a 5xx.

Schemathesis generates requests from the API's own OpenAPI document (every operation;
valid input, then invalid input); Hypothesis then signs arbitrary JSON documents
correctly, so fuzzed events get past the signature check to the parser and the database.
Both run against each durable store (PostgreSQL refuses what SQLite takes: NUL
characters, integers past 64 bits...).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.demo.crm import Crm

FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.parametrize("mode", list(schemathesis.GenerationMode))
def test_no_operation_answers_5xx(store_api: Crm, mode: schemathesis.GenerationMode) -> None:
    schema = schemathesis.openapi.from_url(f"http://127.0.0.1:{store_api.api_port}/openapi.json")
    assert len(list(schema.get_all_operations())) == 8  # every route is fuzzed

    @settings(FUZZ, max_examples=100)
    @given(case=schema.as_strategy(mode))
    def call(case: Any) -> None:
        response = case.call(timeout=30)
        assert response.status_code < 500, (case.method, case.path, response.text[:500])

    call()


SCALARS = st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | st.text()
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=6),
    max_leaves=20,
)
EVENTS = st.fixed_dictionaries(
    {
        "id": st.text(max_size=120),
        "type": st.sampled_from(["message.delivered", "message.failed", "message.received", "x"]),
        "created_at": st.floats(allow_nan=False) | st.text(max_size=5),
        "data": st.fixed_dictionaries(
            {},
            optional={
                "message_id": st.text(max_size=120),
                "reference": st.text(max_size=120) | st.just("sms:1:1"),
                "to": st.text(max_size=25),
                "from": st.text(max_size=25),
                "body": st.text(max_size=200) | st.just("STOP"),
                "error": st.none() | st.text(max_size=10),
            },
        ),
    }
)


@FUZZ
@given(document=EVENTS | JSON)
def test_a_signed_event_of_any_shape_is_accepted_or_422(store_api: Crm, document: Any) -> None:
    answer = store_api.webhook(json.dumps(document).encode())
    assert answer.status_code in (202, 422), answer.text[:500]


def test_what_postgresql_cannot_store_is_refused_on_both_stores(store_api: Crm) -> None:
    event = {
        "id": "evt_\x00",
        "type": "message.received",
        "created_at": 1.0,
        "data": {"message_id": "m", "from": "+12125550142", "to": "+16465550100", "body": "hi"},
    }
    assert store_api.webhook(json.dumps(event).encode()).status_code == 422
    infinite = json.dumps({**event, "id": "evt_inf", "created_at": float("inf")})
    assert store_api.webhook(infinite.encode()).status_code == 422  # not JSON to PostgreSQL
    campaign = {"name": "a\x00b", "sender": "+16465550100", "body": "Hi", "segment": None}
    assert store_api.api.post("/demo/campaigns", json=campaign).status_code == 422
    upload = ("c\x00.csv", b"phone,name\n+12125550142,A\x00n\n", "text/csv")
    answer = store_api.api.post("/demo/imports", files={"file": upload})
    assert answer.status_code == 422 and "NUL" in answer.json()["detail"]
