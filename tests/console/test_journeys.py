"""Journeys in a real browser (Debian's Chromium through Playwright) against the real stack.

``test_every_page_is_served_and_screenshotted`` saves a screenshot of every page under
``test-artifacts/console/`` (not committed).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, expect

from tests.apps.console import HEAL_KEY, TICKS_KEY
from tests.console.conftest import PASSWORDS, Stack
from tests.support.workers import wait_for

CHARGE = "tests.apps.console.charge"
FLAKY = "tests.apps.console.flaky"


def log_in(browser: Browser, stack: Stack, user: str) -> Page:
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(stack.url + "/tasks")  # not logged in: sent to the login page, then back
    expect(page.locator("h1")).to_have_text("Log in")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORDS[user])
    page.click("#login button[type=submit]")
    page.wait_for_url(stack.url + "/tasks")
    expect(page.locator(".who")).to_contain_text(user)
    return page


def api_until(stack: Stack, path: str, ok: Callable[[Any], Any], timeout: float = 30) -> Any:
    api = stack.api()
    found: list[Any] = []

    def check() -> bool:
        reply = api.get(path)
        if reply.status_code == 200 and ok(reply.json()):
            found.append(reply.json())
            return True
        return False

    wait_for(check, timeout, 0.2, f"GET {path}")
    return found[-1]


def dead_task(stack: Stack, card: str, password: str = "") -> str:
    """A charge that fails and is dead-lettered; returns its task id once history shows it."""
    task_id = stack.app.send_task(CHARGE, args=[card], kwargs={"password": password}).id
    api_until(stack, f"/api/tasks/{task_id}", lambda d: d["task"]["state"] == "dead_lettered")
    return str(task_id)


def test_every_page_is_served_and_screenshotted(
    stack: Stack, browser: Browser, artifacts: Path
) -> None:
    task_id = dead_task(stack, "4242")
    letter = stack.api().get(f"/api/dlq/{task_id}").json()["id"]
    sms = stack.app.send_task("tests.apps.console.send_sms", args=["+15551234"]).id
    api_until(stack, f"/api/tasks/{sms}", lambda d: d["task"]["state"] == "succeeded")
    shots = {"name": "shots", "task": CHARGE, "cron": "0 3 * * *", "tz": "Europe/Berlin",
             "args": ["4242"], "kwargs": {"password": "not-shown"}}  # fmt: skip
    assert stack.api().post("/api/schedules", json=shots).status_code == 201
    outside: list[str] = []
    page = log_in(browser, stack, "ann")
    page.on("request", lambda r: None if r.url.startswith(stack.url) else outside.append(r.url))
    pages = [
        ("/", "Overview", "overview"), ("/tasks", "Tasks", "tasks"),
        (f"/tasks/{task_id}", f"Task {CHARGE}", "task"), ("/dlq", "Dead letters", "dlq"),
        (f"/dlq/{letter}", f"Dead letter #{letter}", "dead-letter"),
        ("/schedules", "Schedules", "schedules"), ("/limits", "Limits", "limits"),
        ("/queues", "Queues", "queues"), ("/workers", "Workers & beats", "workers"),
        ("/audit", "Audit log", "audit"),
    ]  # fmt: skip
    for path, title, slug in pages:
        response = page.goto(stack.url + path)
        assert response is not None and response.status == 200, path
        expect(page.locator("h1")).to_have_text(title)
        if slug == "overview":
            expect(page.locator("#chart[data-ready=true] canvas")).to_have_count(1)
        if slug == "limits":
            quota = page.locator("tr[data-limit='quota:tests.apps.console.send_sms']")
            expect(quota).to_contain_text("50/d")
            expect(page.locator("tr[data-limit='breaker:sms-gateway']")).to_contain_text("closed")
        page.screenshot(path=str(artifacts / f"{slug}.png"), full_page=True)
    anonymous = browser.new_page()
    anonymous.goto(stack.url + "/login")
    anonymous.screenshot(path=str(artifacts / "login.png"))
    assert outside == []  # everything is served by the console itself: works offline
    assert {p.name for p in artifacts.glob("*.png")} >= {f"{s}.png" for *_, s in pages}


def test_find_a_failed_task_from_the_overview_and_read_its_traceback(
    stack: Stack, browser: Browser
) -> None:
    card = f"4000-{uuid.uuid4().hex[:6]}"
    task_id = dead_task(stack, card)
    page = log_in(browser, stack, "ann")
    page.goto(stack.url + "/")
    page.click(f"a[href='/tasks/{task_id}']")
    page.wait_for_url(f"{stack.url}/tasks/{task_id}")
    expect(page.locator("[data-exception]")).to_contain_text(f"card {card} declined")
    expect(page.locator("[data-traceback]")).to_contain_text("Traceback")
    expect(page.locator("[data-traceback]")).to_contain_text(f"ValueError: card {card} declined")
    expect(page.locator("[data-where]")).to_contain_text("dead-lettered")


def test_bulk_replay_the_dead_letters_of_one_task_name(stack: Stack, browser: Browser) -> None:
    stack.redis.delete(HEAL_KEY)
    flaky = [stack.app.send_task(FLAKY, args=[n]).id for n in range(4)]
    other = dead_task(stack, "5555")
    for task_id in flaky:
        api_until(stack, f"/api/tasks/{task_id}", lambda d: d["task"]["state"] == "dead_lettered")
    stack.redis.set(HEAL_KEY, "1")  # the provider is back
    page = log_in(browser, stack, "ann")
    page.goto(f"{stack.url}/dlq?name={FLAKY}")
    expect(page.locator("[data-match-count]")).to_have_text("4")
    asked: list[str] = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    page.click("button[data-bulk=replay]")
    expect(page.locator("#bulk-status")).to_have_attribute("data-state", "finished")
    assert asked == [f"Replay 4 dead letter(s) of {FLAKY}?"]
    expect(page.locator("#bulk-progress")).to_have_attribute("max", "4")
    for task_id in flaky:
        letter = stack.api().get(f"/api/dlq/{task_id}").json()
        assert letter["replayed_as"], letter
        api_until(stack, f"/api/tasks/{letter['replayed_as']}",
                  lambda d: d["task"]["state"] == "succeeded")  # fmt: skip
    assert stack.api().get(f"/api/dlq/{other}").json()["replayed_as"] is None
    audit = stack.api().get("/api/audit", params={"action": "dlq.replay"}).json()["entries"]
    assert any(e["actor"] == "console:ann" and e["count"] == 4 for e in audit)


def test_pause_a_schedule_and_see_no_fire_for_three_ticks(stack: Stack, browser: Browser) -> None:
    page = log_in(browser, stack, "ann")
    page.goto(stack.url + "/schedules")
    if page.locator("#schedule-editor").get_attribute("open") is None:  # "" when open
        page.click("#schedule-editor summary")
    page.fill("#schedule-form input[name=name]", "journey-tick")
    page.select_option("#schedule-form select[name=task]", "tests.apps.console.tick")
    page.select_option("#schedule-form select[name=kind]", "every")
    page.fill("#schedule-form input[name=timing]", "1s")
    page.click("#schedule-preview")
    expect(page.locator("#schedule-times li")).to_have_count(5)
    page.click("#schedule-save")
    row = page.locator("tr[data-schedule=journey-tick]")
    expect(row.locator("[data-enabled]")).to_have_text("enabled")
    wait_for(lambda: len(_slots(stack, "journey-tick")) >= 2, 20, 0.1, "two fires")
    row.locator("button", has_text="Pause").click()
    expect(row.locator("[data-enabled]")).to_have_text("paused")
    paused_at = time.time()
    time.sleep(3.5)  # three slots of the schedule (every 1s), and then some
    # Told apart by slot: a slot fired before the pause may still run on a slow machine.
    late = [t for t in _slots(stack, "journey-tick") if t > paused_at + BEAT_TICK]
    assert late == []
    audit = stack.api().get("/api/audit", params={"action": "schedule.pause"}).json()["entries"]
    assert [e["actor"] for e in audit if e["target"] == "journey-tick"] == ["console:ann"]


BEAT_TICK = 0.5  # the stack's beat --tick


def _slots(stack: Stack, schedule: str) -> list[float]:
    """The slot times of ``schedule``'s runs, as the tick task recorded them."""
    times = []
    for raw in stack.redis.lrange(TICKS_KEY, 0, -1):
        name, _, slot = json.loads(raw)["slot"].partition("@")
        if name == schedule:
            times.append(datetime.fromisoformat(slot.replace("Z", "+00:00")).timestamp())
    return times


def test_a_progress_bar_advances_without_a_reload(stack: Stack, browser: Browser) -> None:
    task_id = stack.app.send_task("tests.apps.console.crunch", args=[12, 0.5]).id
    api_until(stack, f"/api/tasks/{task_id}", lambda d: d["task"]["state"] == "started")
    page = log_in(browser, stack, "ann")
    page.goto(f"{stack.url}/tasks/{task_id}")
    page.evaluate("window.__same_page = true")
    bar = "document.querySelector('#task-progress')"
    page.wait_for_function(f"() => {bar} && Number({bar}.value) >= 1", timeout=20_000)
    first = page.evaluate(f"Number({bar}.value)")
    page.wait_for_function(f"() => Number({bar}.value) >= {first} + 2", timeout=20_000)
    assert page.evaluate("window.__same_page") is True  # updated in place, not reloaded
    expect(page.locator("[data-state]")).to_have_text("succeeded", timeout=20_000)


def test_a_viewer_is_refused_an_action(stack: Stack, browser: Browser) -> None:
    created = stack.api().post(
        "/api/schedules", json={"name": "viewer-target", "task": "tests.apps.console.tick",
                                "every": "1h"},
    )  # fmt: skip
    assert created.status_code == 201, created.text
    page = log_in(browser, stack, "vic")
    page.goto(stack.url + "/schedules")
    page.locator("tr[data-schedule=viewer-target] button", has_text="Pause").click()
    expect(page.locator("#flash.bad")).to_contain_text("vic is a viewer")
    schedules = stack.api().get("/api/schedules").json()["schedules"]
    assert next(s for s in schedules if s["name"] == "viewer-target")["enabled"] is True
