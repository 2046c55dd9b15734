"""Redis key names of flow control (all under ``stalwart:flow:``)."""

from __future__ import annotations

from stalwart.coordination import key

__all__ = ["REGISTRY", "limit_scope", "scoped"]

# Hash of every limit scope seen: field = scope, value = JSON of its configuration.
REGISTRY = key("flow", "limits")


def limit_scope(task_name: str, limit_key: str) -> str:
    """The unit limits apply to: a task, or a task and one ``limit_key`` value."""
    return f"{task_name}|{limit_key}" if limit_key else task_name


def scoped(kind: str, *parts: object) -> str:
    """``scoped("throttle", scope)`` -> ``stalwart:flow:throttle:<scope>``."""
    return key("flow", kind, *parts)
