"""One outbox row as Python: built from a Celery signature, published from a row.

Only plain JSON goes into the outbox (DESIGN: arguments are JSON), and only the
publishing options that still mean the same thing when the message is sent a moment
later: ``countdown`` and a relative ``expires`` are turned into absolute times when
the row is written.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from stalwart.errors import OutboxError
from stalwart.middleware.idempotency import KEY_HEADER, TTL_HEADER

__all__ = ["OPTIONS", "OutboxRecord"]

# Publishing options an outbox row may carry (links, chains and callbacks may not:
# they would be lost between the transaction and the publish).
OPTIONS = frozenset(
    {"queue", "priority", "countdown", "eta", "expires", "headers", "routing_key", "exchange"}
)


@dataclass(frozen=True)
class OutboxRecord:
    """A task message waiting in the outbox (``id`` is None until it is written)."""

    task_id: str
    name: str
    args: list[Any]
    kwargs: dict[str, Any]
    options: dict[str, Any] = field(default_factory=dict)
    id: int | None = None
    created_at: datetime | None = None
    attempt: int = 1  # publish attempts so far (see stalwart.outbox.attempts)

    @property
    def publish_id(self) -> str:
        """The task id this attempt is published under: the row's, then one per attempt."""
        return self.task_id if self.attempt <= 1 else f"{self.task_id}-{self.attempt}"

    @classmethod
    def from_signature(cls, signature: Any, task: Any, now: datetime) -> OutboxRecord:
        """The row for ``signature`` (``task``: the registered task, if known)."""
        name = getattr(signature, "task", None)
        if not isinstance(name, str) or not name:
            raise OutboxError(
                f"outbox: expected a task signature such as send.s(...), not {signature!r}"
            )
        given = dict(signature.options or {})
        task_id = str(given.pop("task_id", None) or uuid.uuid4())
        unknown = sorted(set(given) - OPTIONS)
        if unknown:
            raise OutboxError(
                f"outbox: {name} has options the outbox cannot keep: {', '.join(unknown)} "
                f"(allowed: {', '.join(sorted(OPTIONS))}; enqueue callbacks from the task itself)"
            )
        options = _absolute_times(given, now)
        if task is not None and "queue" not in options and getattr(task, "queue", None):
            options["queue"] = task.queue
        headers = dict(options.get("headers") or {})
        stalwart_options = getattr(task, "stalwart_options", None)
        if getattr(stalwart_options, "idempotency_key", None) is None:
            # The relay is at-least-once: a task without its own key runs once per row.
            headers.setdefault(KEY_HEADER, f"outbox:{task_id}")
            ttl = getattr(stalwart_options, "idempotency_ttl", None)
            if ttl:
                headers.setdefault(TTL_HEADER, ttl)
        options["headers"] = headers
        record = cls(
            task_id, name, list(signature.args or ()), dict(signature.kwargs or {}), options
        )
        record.check_json()
        return record

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> OutboxRecord:
        return cls(
            task_id=row["task_id"],
            name=row["name"],
            args=list(row["args"]),
            kwargs=dict(row["kwargs"]),
            options=dict(row["options"]),
            id=int(row["id"]),
            created_at=row["created_at"],
        )

    def row(self, now: datetime) -> dict[str, Any]:
        values: dict[str, Any] = {
            "task_id": self.task_id,
            "name": self.name,
            "args": self.args,
            "kwargs": self.kwargs,
            "options": self.options,
            "created_at": self.created_at or now,
        }
        if self.id is not None:
            values["id"] = self.id
        return values

    def publish_options(self) -> dict[str, Any]:
        """Keyword arguments for ``apply_async``/``send_task`` (with the task id)."""
        options: dict[str, Any] = {**self.options, "task_id": self.publish_id}
        for name in ("eta", "expires"):
            if isinstance(options.get(name), str):
                options[name] = datetime.fromisoformat(options[name])
        return options

    def check_json(self) -> None:
        for what, value in (
            ("args", self.args),
            ("kwargs", self.kwargs),
            ("options", self.options),
        ):
            try:
                json.dumps(value)
            except (TypeError, ValueError) as exc:
                raise OutboxError(
                    f"outbox: the {what} of {self.name} are not JSON ({exc}); "
                    "pass ids and plain values, not objects"
                ) from None


def _absolute_times(options: dict[str, Any], now: datetime) -> dict[str, Any]:
    result = dict(options)
    countdown = result.pop("countdown", None)
    if countdown is not None:
        if "eta" in result:
            raise OutboxError("outbox: give countdown or eta, not both")
        result["eta"] = now + timedelta(seconds=float(countdown))
    expires = result.get("expires")
    if isinstance(expires, int | float) and not isinstance(expires, bool):
        result["expires"] = now + timedelta(seconds=float(expires))
    for name in ("eta", "expires"):
        value = result.get(name)
        if isinstance(value, datetime):
            if value.tzinfo is None:
                raise OutboxError(f"outbox: {name} must be a timezone-aware datetime")
            result[name] = value.astimezone(UTC).isoformat()
    return result
