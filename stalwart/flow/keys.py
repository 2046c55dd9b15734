"""Redis key names of flow control (all under ``stalwart:flow:``)."""

from __future__ import annotations

from stalwart.coordination import key

__all__ = [
    "NONE",
    "REGISTRY",
    "breaker_key",
    "concurrency_key",
    "limit_scope",
    "pause_key",
    "quota_key",
    "throttle_key",
    "unique_key",
]

# Placeholder for a key a script call does not use (scripts take a fixed key list).
NONE = key("flow", "none")
# Hash of every limit seen: field = scope, value = JSON of its configuration.
REGISTRY = key("flow", "limits")


def limit_scope(task_name: str, limit_key: str) -> str:
    """The unit limits apply to: a task, or a task and one ``limit_key`` value."""
    return f"{task_name}|{limit_key}" if limit_key else task_name


def throttle_key(scope: str) -> str:
    return key("flow", "throttle", scope)


def quota_key(scope: str, period: str) -> str:
    return key("flow", "quota", scope, period)


def concurrency_key(scope: str) -> str:
    return key("flow", "running", scope)


def pause_key(scope: str) -> str:
    return key("flow", "pause", scope)


def unique_key(digest: str) -> str:
    return key("flow", "unique", digest)


def breaker_key(name: str) -> str:
    return key("flow", "breaker", name)
