"""Bulk dead-letter actions through the API: the confirmed count guards a filter."""

from __future__ import annotations

import uuid

from tests.console.conftest import Stack
from tests.console.test_journeys import CHARGE, api_until, dead_task


def test_a_filter_acts_only_on_the_count_that_was_confirmed(stack: Stack) -> None:
    api = stack.api()
    first, second = dead_task(stack, "7001"), dead_task(stack, "7002")
    waiting = api.get("/api/dlq", params={"name": CHARGE}).json()["waiting"]
    assert waiting >= 2
    stale = api.post("/api/dlq/bulk", json={"action": "discard", "name": CHARGE,
                                            "expected": waiting - 1})  # fmt: skip
    assert stale.status_code == 409, stale.text
    assert f"now matches {waiting} dead letter(s), not the {waiting - 1}" in stale.json()[
        "error"]["message"]  # fmt: skip
    assert api.get("/api/dlq", params={"name": CHARGE}).json()["waiting"] == waiting

    letter = api.get(f"/api/dlq/{first}").json()["id"]
    job = api.post("/api/dlq/bulk", json={"action": "discard", "ids": [letter]}).json()
    done = api_until(stack, f"/api/jobs/{job['id']}", lambda j: j["state"] != "running")
    assert (done["state"], done["done"], done["result"]) == ("finished", 1, {"discarded": 1})
    assert api.get(f"/api/dlq/{first}").status_code == 404
    assert api.get(f"/api/dlq/{second}").status_code == 200
    audit = api.get("/api/audit", params={"action": "dlq.discard"}).json()["entries"]
    assert audit[0]["actor"] == "console:token" and audit[0]["target"] == str(letter)

    unknown = api.post("/api/dlq/bulk", json={"action": "replay", "ids": [10**9]})
    assert unknown.status_code == 404
    both = api.post("/api/dlq/bulk", json={"action": "replay", "ids": [1], "name": CHARGE})
    assert both.status_code == 400
    assert api.get(f"/api/jobs/{uuid.uuid4().hex}").status_code == 404
