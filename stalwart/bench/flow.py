"""``stalwart bench flow``: what flow-control checks cost a draining worker.

Built on the drain harness (:mod:`stalwart.bench.harness`): a real worker (prefork
-c2) drains a pre-filled queue of no-op tasks, once for a task without flow control
and once for the same task with throttle + quota + concurrency checks whose limits
are too high to bind. Rounds alternate; the best round of each is kept (a shared
machine's bursts of load do not decide it). Each drain also reports the Redis
commands per task (``INFO commandstats`` deltas: publishing, Celery's own commands,
Stalwart's, and the commands inside Lua scripts). It runs against its own embedded
server in a temporary directory.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import redis

from stalwart.app import Stalwart
from stalwart.bench.harness import DrainTarget, Report, measure_drain
from stalwart.settings import Settings

__all__ = ["run_flow_bench"]

APP = "stalwart.bench.flow_app:app"
PLAIN = DrainTarget("plain", APP, "stalwart.bench.flow_app.plain", args=lambda run, i: ())
CHECKED = DrainTarget("checked", APP, "stalwart.bench.flow_app.checked", args=lambda run, i: ())


def _commands(client: redis.Redis) -> int:
    stats: dict[str, Any] = client.info("commandstats")
    return sum(int(v["calls"]) for v in stats.values())


def run_flow_bench(tasks: int, rounds: int, report: Report) -> dict[str, Any]:
    """Best drain rate of each target over alternating rounds, ratio, commands per task."""
    with tempfile.TemporaryDirectory(prefix="stalwart-bench-") as tmp:
        settings = Settings(data_dir=Path(tmp))
        driver = Stalwart("bench-flow-driver", settings=settings)
        driver.ensure_schema()  # starts the embedded server and creates the tables
        client = driver.redis
        best: dict[str, float] = {}
        commands: dict[str, float] = {}
        history: list[dict[str, float]] = []
        for number in range(1, rounds + 1):
            row: dict[str, float] = {}
            order = (CHECKED, PLAIN) if number % 2 else (PLAIN, CHECKED)
            for target in order:
                before = _commands(client)
                result = measure_drain(target, tasks=tasks, settings=settings)
                per_task = (_commands(client) - before) / tasks
                row[target.label] = round(result.rate, 1)
                report(f"round {number}: {target.label} {result.rate:,.0f} tasks/s, "
                       f"{per_task:.1f} Redis commands/task")  # fmt: skip
                if result.rate > best.get(target.label, 0.0):
                    best[target.label] = result.rate
                commands[target.label] = round(per_task, 1)
            history.append(row)
    return {
        "tasks_per_round": tasks,
        "plain": round(best["plain"], 1),
        "checked": round(best["checked"], 1),
        "ratio": round(best["checked"] / best["plain"], 3),
        "commands_per_task_plain": commands["plain"],
        "commands_per_task_checked": commands["checked"],
        "rounds": history,
    }
