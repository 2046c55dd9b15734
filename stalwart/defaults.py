"""Stalwart's hardened Celery defaults.

Each entry is explained, with the failure it prevents, in ``docs/CONFIGURATION.md``.
They are installed as Celery *defaults* (``app.add_defaults``), so anything the user
sets (``app.conf.update``, ``config_from_object``, Django settings) wins.
"""

from __future__ import annotations

import itertools
from typing import Any

from stalwart.settings import Settings

__all__ = ["PICKLE", "hardened_config", "validate_serializers", "validate_timeouts"]

# The names kombu knows pickle by (the serializer's name and its content type).
PICKLE = frozenset({"pickle", "application/x-python-serialize"})


def hardened_config(settings: Settings) -> dict[str, Any]:
    """The Celery configuration Stalwart starts from."""
    visibility = settings.visibility_timeout
    transport: dict[str, Any] = {"visibility_timeout": visibility}
    if settings.broker_is_redis:
        transport["health_check_interval"] = 25
    else:
        transport["confirm_publish"] = True  # AMQP publisher confirms
    return {
        # Arguments are JSON; pickle is refused everywhere.
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        "event_serializer": "json",
        # Acknowledge after the task ran; requeue when the worker process dies.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_acks_on_failure_or_timeout": True,
        "worker_prefetch_multiplier": 1,
        "task_track_started": True,
        # One visibility timeout, used by the broker and the result backend.
        "broker_transport_options": transport,
        "result_backend_transport_options": {"visibility_timeout": visibility},
        # Ordered timeouts: soft < hard < visibility (checked by validate_timeouts).
        "task_soft_time_limit": settings.task_soft_time_limit,
        "task_time_limit": settings.task_time_limit,
        # Connections: retry at start-up and on publish.
        "broker_connection_retry_on_startup": True,
        "broker_connection_max_retries": None,
        "task_publish_retry": True,
        "task_publish_retry_policy": {
            "max_retries": 5,
            "interval_start": 0.1,
            "interval_step": 0.5,
            "interval_max": 3.0,
        },
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        # Container-friendly shutdown: SIGTERM finishes running tasks for a while,
        # then requeues them (acks_late) instead of losing them.
        "worker_soft_shutdown_timeout": 10.0,
        "worker_enable_soft_shutdown_on_idle": False,
        # Results: kept one day in the coordination store.
        "result_backend": settings.effective_redis_url.replace("unix://", "redis+socket://", 1),
        "result_expires": 86_400,
        "result_extended": True,
        "timezone": settings.timezone,
        "enable_utc": True,
        "worker_hijack_root_logger": False,
    }


def validate_timeouts(conf: Any) -> str | None:
    """Return a problem description if the effective timeouts are not ordered, else None."""
    soft = conf.get("task_soft_time_limit")
    hard = conf.get("task_time_limit")
    visibility = (conf.get("broker_transport_options") or {}).get("visibility_timeout")
    chain = [
        (name, value)
        for name, value in (
            ("task_soft_time_limit", soft),
            ("task_time_limit", hard),
            ("broker_transport_options['visibility_timeout']", visibility),
        )
        if value is not None
    ]
    for (low_name, low), (high_name, high) in itertools.pairwise(chain):
        if not low < high:
            return f"{low_name} ({low}) must be below {high_name} ({high})"
    return None


def validate_serializers(conf: Any, tasks: Any = ()) -> str | None:
    """Return a problem description if the configuration lets pickle in, else None.

    Pickle runs code chosen by whoever can write to the broker, so an app that adds it to
    ``accept_content``/``result_accept_content`` or serializes with it (the app's or a
    task's ``serializer``) is refused at start (DESIGN: pickle is refused everywhere).
    """
    for setting in ("accept_content", "result_accept_content"):
        for name in conf.get(setting) or ():
            if str(name).lower() in PICKLE:
                return f"{setting} includes {name!r}"
    for setting in ("task_serializer", "result_serializer", "event_serializer"):
        name = conf.get(setting)
        if name is not None and str(name).lower() in PICKLE:
            return f"{setting} is {name!r}"
    for task in tasks:
        name = getattr(task, "serializer", None)
        if name is not None and str(name).lower() in PICKLE:
            return f"task {task.name} has serializer={name!r}"
    return None
