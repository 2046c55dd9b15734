"""A test app for the scheduler: its task records each run with its slot id in Redis."""

from __future__ import annotations

import json
import os
import time
from typing import Any

from stalwart import Stalwart

app = Stalwart("scheduled")

FIRES_KEY = "scheduler-test:fires"

# Defined in code, the Celery way: `stalwart beat` syncs it into the schedules table.
app.conf.beat_schedule = {
    "code-hourly": {"task": "tests.apps.scheduled.noop", "schedule": 3600.0},
}


@app.task(bind=True)
def tick(self: Any, label: str = "") -> str:
    """Append {slot, schedule, label, ran_at, pid} to the list the tests count."""
    slot = getattr(self.request, "stalwart_slot", None)
    app.redis.rpush(
        FIRES_KEY,
        json.dumps(
            {
                "slot": slot,
                "schedule": getattr(self.request, "stalwart_schedule", None),
                "label": label,
                "ran_at": time.time(),
                "pid": os.getpid(),
                "task_id": self.request.id,
            }
        ),
    )
    return str(slot)


@app.task
def noop() -> None:
    return None
