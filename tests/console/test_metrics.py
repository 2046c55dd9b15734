"""``/metrics`` parsed with prometheus-client's own parser after a known workload, and the
probes: a broker outage fails readiness, never liveness."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.console.conftest import Stack, console_settings, start_console
from tests.console.test_journeys import api_until
from tests.support.services import RedisServer
from tests.support.workers import wait_for

SMS = "tests.apps.console.send_sms"
OK = "tests.apps.console.ok"


def scrape(stack: Stack) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    reply = stack.api().get("/metrics")
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(reply.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_after_a_known_workload(stack: Stack) -> None:
    before = scrape(stack)
    ids = [stack.app.send_task(OK, args=[n]).id for n in range(5)]
    ids += [stack.app.send_task(SMS, args=[f"+1555000{n}"]).id for n in range(3)]
    for task_id in ids:
        api_until(stack, f"/api/tasks/{task_id}", lambda d: d["task"]["state"] == "succeeded")
    for _ in range(2):  # one after the other: the second failure opens the breaker
        failing = stack.app.send_task(SMS, args=["+15550009"], kwargs={"fail": True}).id
        api_until(stack, f"/api/tasks/{failing}",
                  lambda d: d["task"]["state"] == "dead_lettered")  # fmt: skip
    deferred = stack.app.send_task(SMS, args=["+15550010"]).id  # the breaker is open now
    api_until(stack, f"/api/tasks/{deferred}", lambda d: d["task"]["state"] == "deferred")

    def delta(name: str, **labels: str) -> float:
        return value(scrape(stack), name, **labels) - value(before, name, **labels)

    wait_for(lambda: delta("stalwart_task_events_total", task=OK, event="succeeded") == 5,
             20, 0.5, "5 successes counted")  # fmt: skip
    after = scrape(stack)
    assert value(after, "stalwart_task_runtime_seconds_count", task=OK) - value(
        before, "stalwart_task_runtime_seconds_count", task=OK) == 5  # fmt: skip
    assert delta("stalwart_task_events_total", task=SMS, event="succeeded") == 3
    assert delta("stalwart_task_events_total", task=SMS, event="failed") == 2
    # No retry policy: dead-lettered as "failed" after its one attempt (RELIABILITY.md).
    assert delta("stalwart_dead_letters_total", task=SMS, reason="failed") == 2
    assert delta("stalwart_task_deferrals_total", task=SMS, reason="breaker") >= 1
    # Store gauges are cached for a few seconds (CACHE_SECONDS): poll them.
    wait_for(lambda: value(scrape(stack), "stalwart_breaker_state", breaker="sms-gateway",
                           state="open") == 1, 15, 0.5, "breaker open in /metrics")  # fmt: skip
    after = scrape(stack)
    assert value(after, "stalwart_quota_used", task=SMS, key="") >= 5
    assert value(after, "stalwart_quota_limit", task=SMS, key="") == 50
    assert value(after, "stalwart_queue_depth", queue="celery") >= 0
    assert ("stalwart_queue_oldest_age_seconds", (("queue", "celery"),)) in after
    assert value(after, "stalwart_workers_alive") == 1
    assert value(after, "stalwart_dead_letters_waiting") >= 2
    assert 0 <= value(after, "stalwart_recorder_lag_seconds") < 300
    assert ("stalwart_tasks_unfinished", (("state", "deferred"),)) in after
    assert all(
        value(after, "stalwart_console_scrape_errors", source=s) == 0
        for s in ("queues", "recorder", "dead_letters", "limits", "workers", "history")
    )

    # An operator closes the breaker from the limits page's action.
    reset = stack.api().post("/api/breakers/sms-gateway/reset")
    assert reset.status_code == 200, reset.text
    wait_for(lambda: value(scrape(stack), "stalwart_breaker_state", breaker="sms-gateway",
                           state="closed") == 1, 15, 0.5, "breaker closed in /metrics")  # fmt: skip
    limits = stack.api().get("/api/limits").json()
    breaker = next(row for row in limits["limits"] if row["kind"] == "breaker")
    assert breaker["limit"] == "closed"
    assert [w["task"] for w in limits["windows"]] == [SMS]


def test_a_broker_outage_fails_readiness_never_liveness(tmp_path: Path) -> None:
    broker = RedisServer(tmp_path / "redis")
    broker.start()
    proc, url = start_console(console_settings(tmp_path, broker.url), tmp_path / "c.log", app=None)
    try:
        ready = httpx.get(url + "/readyz", timeout=30)
        checks = {c["name"]: c["ok"] for c in ready.json()["checks"]}
        assert checks["broker"] is True and checks["database"] is True
        assert ready.status_code == 503 and checks["workers"] is False  # no worker here
        broker.stop()
        down = httpx.get(url + "/readyz", timeout=30)
        assert down.status_code == 503
        assert {c["name"]: c["ok"] for c in down.json()["checks"]}["broker"] is False
        assert httpx.get(url + "/healthz", timeout=10).json() == {"ok": True}
    finally:
        proc.stop()
        broker.kill()
