"""Django as its teams run Celery: settings through ``config_from_object`` with a
namespace, tasks found by ``autodiscover_tasks``, ``delay_on_commit`` in a transaction,
a real ``stalwart worker -A proj`` using the ORM (see docs/FRAMEWORKS.md)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from stalwart import Stalwart
from stalwart.settings import Settings
from tests.support.workers import ROOT, WorkerProcess, base_env, wait_for

PROJECT = Path(__file__).parent / "django_project"
Run = Callable[..., subprocess.CompletedProcess[str]]


def test_django_project_with_a_real_worker(
    start_worker: Callable[..., WorkerProcess],
    run_cli: Run,
    settings: Settings,
    tmp_path: Path,
) -> None:
    database = tmp_path / "orders.sqlite3"
    env = {
        "DJANGO_SETTINGS_MODULE": "proj.settings",
        "ORDERS_DB": str(database),
        "PYTHONPATH": os.pathsep.join((str(PROJECT), str(ROOT))),
    }

    def manage(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=PROJECT,
            env=base_env(settings, env),
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert manage("migrate", "-v", "0").returncode == 0
    worker = start_worker("proj", args=("-c", "1"), env=env)
    assert "orders.tasks.fulfil" in worker.log()  # autodiscovered
    assert ".> orders " in worker.log()  # CELERY_TASK_DEFAULT_QUEUE from settings.py

    placed = manage("place_order", "ann@example.com", "--receipts", "3")
    assert placed.returncode == 0, placed.stderr
    order = int(placed.stdout)
    declined = manage("place_order", "bob@example.com", "--fail")
    assert declined.returncode == 1
    assert "order for bob@example.com rolled back: payment declined" in declined.stderr

    def row() -> tuple[str, int]:
        with sqlite3.connect(database) as db:
            found = db.execute("SELECT status, receipts FROM orders_order WHERE id = ?", (order,))
            return found.fetchone()  # type: ignore[no-any-return]

    def tasks(name: str) -> list[dict[str, object]]:
        listed = run_cli("tasks", "ls", "--name", name, "--json")
        assert listed.returncode == 0, listed.stderr
        return list(json.loads(listed.stdout)["tasks"])

    wait_for(lambda: row()[0] == "fulfilled", 30, what="the order fulfilled by the worker")
    # Sent on commit only: the rolled-back order's task never left the process.
    wait_for(lambda: [t["state"] for t in tasks("orders.tasks.fulfil")] == ["succeeded"], 15)
    [fulfilled] = tasks("orders.tasks.fulfil")
    assert fulfilled["queue"] == "orders"
    wait_for(
        lambda: [t["state"] for t in tasks("orders.tasks.send_receipt")] == ["succeeded"] * 3,
        30,
        what="three receipt sends finished",
    )
    assert row() == ("fulfilled", 1)  # idempotency_key: one run for three sends

    app = Stalwart("client", settings=settings)
    effective = app.send_task("orders.tasks.effective_settings", queue="orders").get(timeout=30)
    assert effective == {
        "task_soft_time_limit": 60,  # CELERY_TASK_SOFT_TIME_LIMIT in settings.py wins
        "task_time_limit": 90,
        "task_acks_late": True,  # Stalwart's hardened default where settings.py is silent
    }
