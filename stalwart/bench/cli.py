"""``stalwart bench cli``: how long the ``stalwart`` command takes, against ``celery --help``.

Each command runs as a fresh process (what a user waits for), in a data directory of the
bench's own: the embedded server running and a SQLite store holding ``--tasks`` tasks of
history. ``celery --help`` runs in the same rounds, interleaved with the others so that a
busy machine slows both alike. Reported per command: the median wall time, its spread
(min-max) and the ratio of the medians to ``celery --help`` (judged against the targets:
``stalwart --help`` at most 1.0x, the read commands at most 1.5x, issue 15); and the
median CPU time (user + system) of the process with its ratio, which other work on a
shared machine disturbs far less than wall time.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from stalwart.settings import Settings

__all__ = ["COMMANDS", "run_cli_bench"]

Report = Callable[[str], None]

BASELINE = ("celery --help", [sys.executable, "-m", "celery", "--help"], None)
# (label, stalwart arguments, target ratio)
COMMANDS: tuple[tuple[str, list[str], float], ...] = (
    ("stalwart --help", ["--help"], 1.0),
    ("stalwart tasks ls", ["tasks", "ls"], 1.5),
    ("stalwart dlq ls", ["dlq", "ls"], 1.5),
    ("stalwart limits", ["limits"], 1.5),
    ("stalwart health", ["health"], 1.5),
)


def run_cli_bench(*, rounds: int, tasks: int = 500, report: Report | None = None) -> dict[str, Any]:
    """Time each command ``rounds`` times; returns a JSON-ready summary."""
    say = report or (lambda _line: None)
    with tempfile.TemporaryDirectory(prefix="stalwart-bench-cli-") as tmp:
        settings = Settings(data_dir=Path(tmp) / ".stalwart")
        env = _environment(settings)
        app = _seeded_app(settings, tasks)
        try:
            runs = [BASELINE, *((label, _stalwart(args), None) for label, args, _ in COMMANDS)]
            times: dict[str, list[float]] = {label: [] for label, _, _ in runs}
            cpu: dict[str, list[float]] = {label: [] for label, _, _ in runs}
            for number in range(rounds):
                for label, argv, _ in runs:
                    wall, used = _timed(argv, env, tmp)
                    times[label].append(wall)
                    cpu[label].append(used)
                say(
                    f"round {number + 1}/{rounds}: "
                    + ", ".join(f"{label} {times[label][-1]:.2f}s" for label, _, _ in runs)
                )
        finally:
            app.release_stores()
    base = statistics.median(times[BASELINE[0]]), statistics.median(cpu[BASELINE[0]])
    rows = [_row(BASELINE[0], times[BASELINE[0]], cpu[BASELINE[0]], base, None)]
    rows += [_row(label, times[label], cpu[label], base, target) for label, _, target in COMMANDS]
    return {
        "rounds": rounds,
        "tasks": tasks,
        "load_average": list(os.getloadavg()),
        "commands": rows,
        "met": all(row["met"] for row in rows if row["target"] is not None),
    }


def _stalwart(args: list[str]) -> list[str]:
    return [sys.executable, "-m", "stalwart.cli", *args]


def _environment(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STALWART_")}
    env["STALWART_DATA_DIR"] = str(settings.data_dir)
    return env


def _seeded_app(settings: Settings, tasks: int) -> Any:
    """The embedded server started (held by this process) and a store with history."""
    from stalwart.app import Stalwart
    from stalwart.events import EventKind, TaskEvent
    from stalwart.history.writer import StreamEvent, write_batch

    app = Stalwart("bench-cli", settings=settings)
    app.ensure_stores()
    app.ensure_schema()
    now = datetime.now(UTC).timestamp()
    events = []
    for number in range(tasks):
        task_id = f"bench-cli-{number:06d}"
        for step, kind in enumerate((EventKind.SENT, EventKind.STARTED, EventKind.SUCCEEDED)):
            event = TaskEvent(kind, task_id, "bench.noop", now - tasks + number + step / 10)
            events.append(StreamEvent(f"{number}-{step}", event))
    with app.engine.begin() as db:
        write_batch(db, events)
    return app


def _timed(argv: list[str], env: dict[str, str], cwd: str) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one run of ``argv``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    used = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    # health exits 1 here (no worker runs); anything else failing would time an error.
    if done.returncode not in ((0, 1) if argv[-1] == "health" else (0,)):
        raise RuntimeError(f"{' '.join(argv[2:])} failed ({done.returncode}): {done.stderr}")
    return seconds, used


def _row(
    label: str,
    seconds: list[float],
    cpu: list[float],
    base: tuple[float, float],
    target: float | None,
) -> dict[str, Any]:
    median, cpu_median = statistics.median(seconds), statistics.median(cpu)
    ratio = median / base[0] if base[0] else float("inf")
    return {
        "command": label,
        "median": round(median, 3),
        "min": round(min(seconds), 3),
        "max": round(max(seconds), 3),
        "ratio": round(ratio, 2),
        "cpu_median": round(cpu_median, 3),
        "cpu_ratio": round(cpu_median / base[1], 2) if base[1] else None,
        "target": target,
        "met": target is None or ratio <= target,
    }
