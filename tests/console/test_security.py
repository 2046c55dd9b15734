"""Security of the console: who may read, who may act, CSRF, cookies, binding, redaction."""

from __future__ import annotations

import socket
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from stalwart.console.server import check_bind
from stalwart.errors import SettingsError
from stalwart.settings import Settings
from tests.console.conftest import Stack, claimed_redis, console_settings, start_console
from tests.console.test_journeys import api_until
from tests.support.workers import ROOT

ACTION = "/api/schedules/sec-target/pause"


@pytest.fixture(scope="module")
def target(stack: Stack) -> str:
    reply = stack.api().post("/api/schedules", json={"name": "sec-target",
                                                     "task": "tests.apps.console.tick",
                                                     "every": "1h"})  # fmt: skip
    assert reply.status_code == 201, reply.text
    return "sec-target"


def _is_error(reply: httpx.Response, status: int, text: str) -> None:
    assert reply.status_code == status, reply.text
    error = reply.json()["error"]
    assert error["status"] == status
    assert text in error["message"]


def test_no_credentials_is_401_and_pages_send_you_to_log_in(stack: Stack) -> None:
    anonymous = stack.client()
    _is_error(anonymous.get("/api/tasks"), 401, "authentication required")
    assert anonymous.get("/api/tasks").headers["www-authenticate"].startswith("Bearer")
    _is_error(anonymous.get("/metrics"), 401, "authentication required")
    _is_error(anonymous.post(ACTION), 401, "authentication required")
    page = anonymous.get("/dlq?name=x", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=%2Fdlq%3Fname%3Dx"
    wrong = stack.client(headers={"Authorization": "Bearer not-the-token"})
    _is_error(wrong.get("/api/tasks"), 401, "not the console's bearer token")
    _is_error(stack.client().post("/api/session", json={"username": "ann", "password": "nope"}),
              401, "wrong user name or password")  # fmt: skip
    assert anonymous.get("/healthz").json() == {"ok": True}


def test_repeated_failed_logins_are_refused_for_a_while(stack: Stack) -> None:
    guesser = stack.client()
    guess = {"username": "mallory", "password": "guess"}
    for _ in range(5):
        _is_error(guesser.post("/api/session", json=guess), 401, "wrong user name or password")
    refused = guesser.post("/api/session", json=guess)
    _is_error(refused, 429, "too many failed logins as 'mallory' from 127.0.0.1: try again in")
    assert 0 < int(refused.headers["retry-after"]) <= 300
    assert refused.json()["error"]["retry_after"] == int(refused.headers["retry-after"])
    stack.login("ann")  # another user name from the same address is not refused


def test_a_viewer_reads_but_is_refused_every_action(stack: Stack, target: str) -> None:
    viewer, csrf = stack.login("vic")
    assert viewer.get("/api/schedules").status_code == 200
    assert viewer.get("/").status_code == 200
    for method, path in (("POST", f"/api/schedules/{target}/pause"),
                         ("DELETE", f"/api/schedules/{target}"),
                         ("POST", "/api/breakers/sms-gateway/reset"),
                         ("POST", "/api/dlq/bulk")):  # fmt: skip
        reply = viewer.request(method, path, headers={"X-CSRF-Token": csrf}, json={})
        _is_error(reply, 403, "vic is a viewer")
    shown = stack.api().get("/api/schedules").json()["schedules"]
    assert next(s for s in shown if s["name"] == target)["enabled"] is True


def test_state_changes_need_the_sessions_csrf_token(stack: Stack, target: str) -> None:
    operator, csrf = stack.login("ann")
    _is_error(operator.post(f"/api/schedules/{target}/pause"), 403, "CSRF token")
    wrong = operator.post(f"/api/schedules/{target}/pause", headers={"X-CSRF-Token": "x" * 32})
    _is_error(wrong, 403, "CSRF token")
    _other, other_csrf = stack.login("ann")  # another session's token is wrong here
    stolen = operator.post(f"/api/schedules/{target}/pause", headers={"X-CSRF-Token": other_csrf})
    _is_error(stolen, 403, "CSRF token")
    paused = operator.post(f"/api/schedules/{target}/pause", headers={"X-CSRF-Token": csrf})
    assert paused.status_code == 200 and paused.json()["enabled"] is False
    resumed = operator.post(f"/api/schedules/{target}/resume", headers={"X-CSRF-Token": csrf})
    assert resumed.status_code == 200 and resumed.json()["enabled"] is True
    audit = stack.api().get("/api/audit", params={"action": "schedule.*"}).json()["entries"]
    mine = [(e["action"], e["actor"]) for e in audit if e["target"] == target]
    assert mine[:2] == [("schedule.resume", "console:ann"), ("schedule.pause", "console:ann")]
    # The bearer token needs no CSRF token (no cookie is involved).
    assert stack.api().post(f"/api/schedules/{target}/resume").status_code == 200


def test_session_cookie_is_signed_httponly_and_samesite(stack: Stack) -> None:
    reply = stack.client().post(
        "/api/session", json={"username": "ann", "password": "ann-operator-pw"}
    )
    cookie = reply.headers["set-cookie"]
    assert cookie.startswith("stalwart_session=")
    for flag in ("HttpOnly", "SameSite=strict", "Path=/", "Max-Age="):
        assert flag.lower() in cookie.lower(), cookie
    value = cookie.split(";")[0].split("=", 1)[1]
    forged = stack.client(cookies={"stalwart_session": value[:-4] + "AAAA"})
    _is_error(forged.get("/api/tasks"), 401, "authentication required")
    assert stack.client(cookies={"stalwart_session": value}).get("/api/tasks").status_code == 200


def test_refuses_a_non_loopback_address_without_auth(tmp_path: object) -> None:
    open_settings = Settings(broker_url="redis://127.0.0.1:1/0")
    with pytest.raises(SettingsError, match=r"refusing to listen on 0\.0\.0\.0 without auth"):
        check_bind("0.0.0.0", open_settings)
    assert "loopback only" in check_bind("127.0.0.1", open_settings)
    assert "loopback only" in check_bind("::1", open_settings)
    locked = Settings(broker_url="redis://127.0.0.1:1/0", console_token="t")
    assert check_bind("0.0.0.0", locked) == "authentication: bearer token"
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT),
           "STALWART_BROKER_URL": "redis://127.0.0.1:1/0"}  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-m", "stalwart.cli", "console", "--host", "0.0.0.0", "--port", "0"],
        env=env, capture_output=True, text=True, timeout=60, cwd=str(ROOT),
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "stalwart: error: refusing to listen on 0.0.0.0 without authentication: set "
        "STALWART_CONSOLE_TOKEN or STALWART_CONSOLE_USERS, or listen on 127.0.0.1"
    ]


@pytest.mark.parametrize(
    ("where", "line"),
    [
        (("--port", "{busy}"), "cannot listen on 127.0.0.1 port {busy}: Address already in use; "
                               "choose another --port (0 picks a free one)"),
        (("--host", "no-such-host.invalid"), "cannot listen on 'no-such-host.invalid': "),
    ],
)  # fmt: skip
def test_an_address_it_cannot_listen_on_is_one_line(where: tuple[str, str], line: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        busy = str(taken.getsockname()[1])
        env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "STALWART_CONSOLE_TOKEN": "t",
               "STALWART_BROKER_URL": "redis://127.0.0.1:1/0"}  # fmt: skip
        args = [arg.format(busy=busy) for arg in where]
        result = subprocess.run(
            [sys.executable, "-m", "stalwart.cli", "console", *args],
            env=env, capture_output=True, text=True, timeout=60, cwd=str(ROOT),
        )  # fmt: skip
    assert result.returncode == 2, result.stderr
    [printed] = result.stderr.strip().splitlines()
    assert printed.startswith("stalwart: error: " + line.format(busy=busy)), printed


def test_without_auth_only_loopback_host_names_are_answered(tmp_path: Path) -> None:
    """DNS rebinding: a page at http://evil.example:PORT whose name now resolves to
    127.0.0.1 is same-origin with the open console; its requests carry its Host."""
    with claimed_redis() as redis_url:
        settings = console_settings(tmp_path, redis_url, console_token=None, console_users=())
        proc, url = start_console(settings, tmp_path / "console.log", app=None)
        try:
            port = url.rsplit(":", 1)[1]
            with httpx.Client(base_url=url, timeout=30) as client:
                for host in (f"localhost:{port}", f"127.0.0.1:{port}", "LOCALHOST", "a.localhost"):
                    assert client.get("/api/session", headers={"Host": host}).status_code == 200
                for host in (f"evil.example:{port}", "evil.example", f"10.1.2.3:{port}"):
                    for path in ("/api/session", "/healthz", "/"):
                        refused = client.get(path, headers={"Host": host})
                        _is_error(refused, 400, f"refusing Host {host!r}")
                    refused = client.post("/api/session", headers={"Host": host}, json={})
                    assert refused.status_code == 400
        finally:
            proc.stop()


def test_a_redacted_password_never_appears_in_any_page_or_answer(stack: Stack) -> None:
    secret = f"hunter2-{uuid.uuid4().hex}"
    card = f"6011-{uuid.uuid4().hex[:6]}"
    failed = stack.app.send_task("tests.apps.console.charge", args=[card],
                                 kwargs={"password": secret}).id  # fmt: skip
    positional = stack.app.send_task("tests.apps.console.charge", args=[card, secret]).id
    api = stack.api()
    for task_id in (failed, positional):
        api_until(stack, f"/api/tasks/{task_id}", lambda d: d["task"]["state"] == "dead_lettered")
    # The password as a positional argument and as a keyword (arguments that fit the
    # task: a schedule whose arguments do not is refused).
    for suffix, args, kwargs in (("p", [card, secret], {}), ("k", [card], {"password": secret})):
        scheduled = api.post("/api/schedules", json={
            "name": f"sec-{card}-{suffix}", "task": "tests.apps.console.charge", "every": "1h",
            "args": args, "kwargs": kwargs,
        })  # fmt: skip
        assert scheduled.status_code == 201, scheduled.text
    paths = [
        "/",
        "/api/overview",
        "/tasks",
        f"/api/tasks?text={card}",
        "/dlq",
        "/api/dlq",
        "/schedules",
        "/api/schedules",
        "/audit",
        "/api/audit",
        "/limits",
        "/api/limits",
    ]
    for task_id in (failed, positional):
        letter = api.get(f"/api/dlq/{task_id}").json()
        assert letter["kwargs"].get("password", "***") == "***"
        paths += [f"/tasks/{task_id}", f"/api/tasks/{task_id}", f"/dlq/{letter['id']}",
                  f"/api/dlq/{letter['id']}"]  # fmt: skip
    for path in paths:
        reply = api.get(path)
        assert reply.status_code == 200, (path, reply.text[:300])
        assert secret not in reply.text, path
    found = api.get("/api/tasks", params={"text": card}).json()
    assert found["searched_since"] == "1h"  # an argument search without since: last hour
    assert {failed, positional} <= {t["task_id"] for t in found["tasks"]}
    shown = api.get(f"/api/tasks/{failed}").json()
    assert shown["kwargs"] == {"password": "***"}
    assert api.get(f"/api/tasks/{positional}").json()["args"] == [card, "***"]
