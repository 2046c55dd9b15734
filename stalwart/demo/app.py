"""The CRM's Stalwart app, its queues and its periodic schedules.

``stalwart worker -A stalwart.demo.tasks:app -Q campaigns`` runs its sends; the tasks
themselves are in :mod:`stalwart.demo.tasks`. Everything here is public Stalwart API,
except the calendar clock the demo shifts (see :mod:`stalwart.demo.calendar`).
"""

from __future__ import annotations

import time

from celery.schedules import crontab

from stalwart import Stalwart
from stalwart.demo.config import CrmConfig
from stalwart.limits.clock import use_clock

__all__ = ["QUEUES", "app", "config"]

# One queue per kind of work, so each gets its own workers (see compose.yaml).
QUEUES = ("campaigns", "webhooks", "imports", "maintenance")

config = CrmConfig.from_env()
app = Stalwart("crm")
app.conf.timezone = "America/New_York"  # the CRM's business day: crontabs below
app.conf.task_default_queue = "maintenance"
app.conf.beat_schedule = {
    # Database schedules (synced by `stalwart beat`, then editable with `stalwart schedules`).
    "provider-sync": {"task": "crm.provider_sync", "schedule": 60.0},
    "nightly-cleanup": {"task": "crm.nightly_cleanup", "schedule": crontab(hour=3, minute=0)},
    "weekly-report": {
        "task": "crm.weekly_report",
        "schedule": crontab(hour=7, minute=0, day_of_week="mon"),
    },
}


def _calendar_now() -> float:
    return time.time() + config.clock_offset


use_clock(app, _calendar_now)
