"""``DeadLetter``: one dead task, as the worker writes it and as the store reads it back.

``args``/``kwargs`` are the intact payload (a replay sends exactly what was sent);
an undecodable message (reason ``undecodable``) has none, only its ``raw`` bytes;
:meth:`DeadLetter.as_dict` shows them redacted per ``STALWART_REDACT``. ``id`` and the
replay fields are None/0 until the row is stored and replayed.
"""

from __future__ import annotations

import base64
import traceback as tb
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from stalwart.deadletter.tables import DeadReason

if TYPE_CHECKING:
    from stalwart.app import Stalwart
    from stalwart.redaction import Redactor
    from stalwart.task import StalwartTask

__all__ = ["FIRST_FAILURE_HEADER", "REPLAY_OF_HEADER", "DeadLetter"]

# Headers Stalwart puts on a task's message: when it first failed (kept across
# retries) and which dead task a replay re-runs.
FIRST_FAILURE_HEADER = "stalwart_first_failure"
REPLAY_OF_HEADER = "stalwart_replay_of"


@dataclass(frozen=True)
class DeadLetter:
    """One dead task: payload, why it died, and what became of it since."""

    task_id: str
    name: str
    queue: str | None
    args: list[Any]
    kwargs: dict[str, Any]
    options: dict[str, Any]
    reason: str
    exc_type: str
    exc_message: str
    traceback: str
    attempts: int
    first_failed_at: datetime
    last_failed_at: datetime
    root_id: str | None
    parent_id: str | None
    replay_of: str | None
    worker: str | None
    id: int | None = None
    replayed_at: datetime | None = None
    replayed_as: str | None = None
    replay_count: int = 0
    #: An undecodable message's bytes as they were on the queue (None for a task).
    raw: bytes | None = None

    @classmethod
    def from_request(
        cls, task: StalwartTask, exc: BaseException, reason: DeadReason | str, attempts: int
    ) -> DeadLetter:
        """The dead letter of ``task``'s running request, dying of ``exc``."""
        request = task.request
        headers = dict(request.headers or {})
        now = datetime.now(UTC)
        first = headers.get(FIRST_FAILURE_HEADER)
        first_at = datetime.fromtimestamp(float(first), UTC) if first else now
        delivery = request.delivery_info or {}
        options: dict[str, Any] = {"headers": headers}
        if delivery.get("priority") is not None:
            options["priority"] = delivery["priority"]
        return cls(
            task_id=str(request.id),
            name=str(task.name),
            queue=delivery.get("routing_key") or None,
            args=list(request.args or ()),
            kwargs=dict(request.kwargs or {}),
            options=options,
            reason=DeadReason(reason).value,
            exc_type=_qualified_name(type(exc)),
            exc_message=str(exc)[:10_000],
            traceback="".join(tb.format_exception(exc))[-50_000:],
            attempts=attempts,
            first_failed_at=first_at,
            last_failed_at=now,
            root_id=request.root_id,
            parent_id=request.parent_id,
            replay_of=headers.get(REPLAY_OF_HEADER),
            worker=request.hostname,
        )

    def row(self) -> dict[str, Any]:
        """The columns to write (everything but the store's own id)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "id"}

    def as_dict(self, app: Stalwart, *, full: bool = False) -> dict[str, Any]:
        """A JSON-ready view, arguments redacted per ``STALWART_REDACT``."""
        return self.view(app.redactor, app.tasks.get(self.name), full=full)

    def view(self, redactor: Redactor, task: Any = None, *, full: bool = False) -> dict[str, Any]:
        """:meth:`as_dict` without an app (the CLI's read commands): ``task``, if known,
        names positional arguments for redaction."""
        args, kwargs = redactor.call(self.args, self.kwargs, task)
        data: dict[str, Any] = {
            "id": self.id,
            "task_id": self.task_id,
            "name": self.name,
            "queue": self.queue,
            "args": args,
            "kwargs": kwargs,
            "reason": self.reason,
            "exc_type": self.exc_type,
            "exc_message": self.exc_message,
            "attempts": self.attempts,
            "first_failed_at": self.first_failed_at.isoformat(),
            "last_failed_at": self.last_failed_at.isoformat(),
            "root_id": self.root_id,
            "parent_id": self.parent_id,
            "replay_of": self.replay_of,
            "replayed_as": self.replayed_as,
            "replayed_at": self.replayed_at.isoformat() if self.replayed_at else None,
            "replay_count": self.replay_count,
        }
        if full:
            data["traceback"] = self.traceback
            data["worker"] = self.worker
            if self.raw is not None:  # undecodable: what was on the queue, exactly
                data["raw"] = _printable(self.raw)
                data["raw_base64"] = base64.b64encode(self.raw).decode("ascii")
        return data

    def shown_arguments(self, app: Stalwart) -> tuple[list[Any], dict[str, Any]]:
        return app.redactor.call(self.args, self.kwargs, app.tasks.get(self.name))


def _qualified_name(kind: type) -> str:
    module = kind.__module__
    return kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"


def _printable(raw: bytes) -> str:
    """``raw`` as text for a terminal: UTF-8 where it is, ``\\xNN`` escapes elsewhere
    and for control characters (``raw_base64`` has the exact bytes)."""
    text = raw.decode("utf-8", "backslashreplace")
    return "".join(
        ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text
    )
