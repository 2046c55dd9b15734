"""Where a task is now: history's last word, checked against live state.

History says what last happened to a task; live state says where it is now: the
broker queue (position and depth), the worker heartbeats (is the worker that holds it
still alive?), the dead-letter store and progress. :func:`where_is` combines them into
one :class:`WhereIs` whose ``text`` is the line ``stalwart tasks show`` prints:

- ``queued on Q, position ~N of D``
- ``reserved by worker W (prefetched, waiting for a free slot)``
- ``running on W for 12s``
- ``waiting for retry 2/5 until T (in 40s)``
- ``deferred by quota until T (in 3h)``
- ``dead-lettered: exhausted after 3 attempts (dead letter #12)``
- ``finished: succeeded at T``
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from stalwart.errors import NotFound
from stalwart.events import EventKind
from stalwart.history.brokers import QueueProbe, probe_for
from stalwart.history.query import TaskDetail, get_task
from stalwart.worker.heartbeat import WorkerInfo, list_workers

if TYPE_CHECKING:
    from stalwart.app import Stalwart

__all__ = ["WhereIs", "describe_time", "where_is"]


@dataclass(frozen=True)
class WhereIs:
    """``state`` is one word (queued, reserved, running, retry-waiting, deferred,
    dead, finished, unknown); ``text`` is the sentence for people."""

    state: str
    text: str
    facts: dict[str, Any] = field(default_factory=dict)


def describe_time(epoch: float, now: float | None = None) -> str:
    """``2024-05-01 10:00:00Z (in 42s)`` / ``(3m ago)``."""
    now = time.time() if now is None else now
    stamp = datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    delta = epoch - now
    return f"{stamp} ({'in ' + _span(delta) if delta >= 0 else _span(-delta) + ' ago'})"


def _span(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m"
    if seconds < 86_400:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86_400:.1f}d"


class _Live:
    """Live state, each source read at most once."""

    def __init__(self, app: Stalwart, probe: QueueProbe | None) -> None:
        self.app = app
        self._probe = probe
        self._workers: dict[str, WorkerInfo] | None = None

    @property
    def probe(self) -> QueueProbe:
        if self._probe is None:
            self._probe = probe_for(self.app.settings)
        return self._probe

    def worker(self, hostname: str | None) -> WorkerInfo | None:
        if self._workers is None:
            infos = list_workers(self.app.redis, include_dead=True)
            self._workers = {w.hostname: w for w in infos}
        return self._workers.get(hostname or "")

    def on_schedule(self, task_id: str) -> bool:
        """True if the task waits in the delay store."""
        try:
            return self.app.delays.due_at(task_id) is not None
        except Exception:  # the store is an aid to the answer, never a failure of it
            return False

    def queued(self, queue: str | None, task_id: str) -> WhereIs | None:
        queues = [queue] if queue else self.probe.queue_names()
        for name in queues:
            found = self.probe.position(name, task_id)
            if found is None:
                continue
            position, exact = found
            depth = self.probe.state(name).depth
            where = f"position ~{position}" if exact else f"beyond position {position}"
            return WhereIs(
                "queued",
                f"queued on {name}, {where} of {depth}",
                {"queue": name, "position": position if exact else None, "depth": depth},
            )
        return None


def where_is(app: Stalwart, task_id: str, probe: QueueProbe | None = None) -> WhereIs:
    """Where ``task_id`` is now (raises NotFound if neither history nor a queue knows it)."""
    live = _Live(app, probe)
    try:
        try:
            task = get_task(app.engine, task_id)
        except NotFound:
            queued = live.queued(None, task_id)
            if queued is None:
                raise
            return WhereIs(queued.state, queued.text + " (not recorded yet)", queued.facts)
        return _from_history(live, task)
    finally:
        if probe is None and live._probe is not None:
            live._probe.close()


def _from_history(live: _Live, task: TaskDetail) -> WhereIs:
    now = time.time()
    state, detail = task.state, task.detail
    if state == EventKind.SUCCEEDED:
        at = task.finished_at or task.state_at
        took = f" in {task.runtime:.3f}s" if task.runtime is not None else ""
        return WhereIs("finished", f"finished: succeeded at {_stamp(at)}{took}")
    if state == EventKind.FAILED:
        at = task.finished_at or task.state_at
        return WhereIs("finished", f"finished: failed at {_stamp(at)} ({task.exception})")
    if state == EventKind.DEAD_LETTERED:
        return _dead(live, task)
    if state == EventKind.REVOKED:
        reason = detail.get("reason") or "revoked"
        return WhereIs("finished", f"revoked ({reason}) at {_stamp(task.state_at)}")
    if state == EventKind.STARTED:
        return _running(live, task, now)
    if state == EventKind.RECEIVED:
        return _reserved(live, task, now)
    if state == EventKind.RETRIED:
        return _waiting(live, task, now, _retry_label(task), detail.get("due"))
    if state == EventKind.DEFERRED:
        reason = detail.get("reason") or "flow control"
        return _waiting(live, task, now, f"deferred by {reason}", detail.get("until"))
    # sent: in the queue, or on its way to a worker, or held until its ETA
    queued = live.queued(task.queue, task.task_id)
    if queued is not None:
        return queued
    eta = _epoch(detail.get("eta"))
    if eta is not None and eta > now:
        return WhereIs("scheduled", f"scheduled for {describe_time(eta, now)} (ETA)")
    return WhereIs(
        "queued",
        f"sent to {task.queue or 'its queue'}; not in the queue now (being delivered)",
        {"queue": task.queue},
    )


def _retry_label(task: TaskDetail) -> str:
    attempt = task.detail.get("attempt") or task.retries
    limit = task.detail.get("max_retries")
    return f"waiting for retry {attempt}/{limit}" if limit else f"waiting for retry {attempt}"


def _waiting(live: _Live, task: TaskDetail, now: float, label: str, until: Any) -> WhereIs:
    due = _epoch(until)
    state = "deferred" if label.startswith("deferred") else "retry-waiting"
    if due is not None and due > now:
        text = f"{label} until {describe_time(due, now)}"
        holder = _eta_holder(task)
        if holder:
            text += f" (held by worker {holder})"
        elif live.on_schedule(task.task_id):
            text += " (in the delay store)"
        return WhereIs(state, text, {"until": due})
    queued = live.queued(task.queue, task.task_id)
    if queued is not None:
        return WhereIs(
            "queued",
            f"{label.split(' until', maxsplit=1)[0]}, now due: {queued.text}",
            queued.facts,
        )
    when = f" since {describe_time(due, now)}" if due is not None else ""
    if live.on_schedule(task.task_id):
        where = "still in the delay store (the pump moves it)"
    else:
        where = "on its way back to a worker"
    return WhereIs(state, f"{label}, due{when}: {where}", {"until": due})


def _eta_holder(task: TaskDetail) -> str | None:
    """The worker holding the task's ETA message, if it took it after the wait began."""
    for event in reversed(task.events):
        if event.kind == EventKind.RECEIVED and event.fields.get("eta"):
            return event.worker
        if event.kind in (EventKind.RETRIED, EventKind.DEFERRED):
            return None
    return None


def _holder(live: _Live, task: TaskDetail, now: float) -> tuple[WorkerInfo | None, str]:
    info = live.worker(task.worker)
    if info is None or not info.alive:
        gone = f"{info.age:.0f}s ago" if info is not None else "long ago"
        timeout = live.app.settings.visibility_timeout
        return info, (
            f"; that worker stopped sending heartbeats {gone}: the message is redelivered "
            f"within the visibility timeout ({timeout}s)"
        )
    return info, ""


def _running(live: _Live, task: TaskDetail, now: float) -> WhereIs:
    _, gone = _holder(live, task, now)
    since = (task.started_at or task.state_at or task.first_at).timestamp()
    text = f"running on {task.worker} for {_span(max(0.0, now - since))}"
    facts: dict[str, Any] = {"worker": task.worker, "running_for": now - since}
    progress = _progress(live, task)
    if progress:
        text += f", {progress}"
    return WhereIs("running" if not gone else "lost", text + gone, facts)


def _reserved(live: _Live, task: TaskDetail, now: float) -> WhereIs:
    _, gone = _holder(live, task, now)
    eta = _epoch(task.detail.get("eta"))
    if eta is not None and eta > now:
        text = f"reserved by worker {task.worker} until its ETA {describe_time(eta, now)}"
    else:
        text = f"reserved by worker {task.worker} (prefetched, waiting for a free slot)"
    return WhereIs("reserved" if not gone else "lost", text + gone, {"worker": task.worker})


def _dead(live: _Live, task: TaskDetail) -> WhereIs:
    reason = task.detail.get("reason") or "failed"
    attempts = task.detail.get("attempts")
    text = f"dead-lettered at {_stamp(task.state_at)}: {reason}"
    if attempts:
        text += f" after {attempts} attempt{'s' if attempts != 1 else ''}"
    store = getattr(live.app, "dead_letters", None)
    facts: dict[str, Any] = {}
    if store is not None:
        try:
            letter = store.get(task.task_id)
        except Exception:
            letter = None
        if letter is not None:
            facts["dead_letter"] = letter.id
            if letter.replayed_as:
                text += f"; replayed as {letter.replayed_as}"
            else:
                text += f" (dead letter #{letter.id}: 'stalwart dlq replay {letter.id}')"
    return WhereIs("dead", text, facts)


def _progress(live: _Live, task: TaskDetail) -> str:
    reader = getattr(live.app, "progress", None)
    value: dict[str, Any] | None = None
    if callable(reader):
        try:
            current = reader(task.task_id)
        except Exception:
            current = None
        if current is not None:
            value = {"current": current.current, "total": current.total, "message": current.message}
    value = value or task.progress
    return format_progress(value) if value else ""


def format_progress(value: dict[str, Any]) -> str:
    current, total = value.get("current"), value.get("total")
    text = f"progress {current:g}" if isinstance(current, int | float) else "progress ?"
    if isinstance(total, int | float) and total:
        text += f"/{total:g} ({100 * float(current or 0) / total:.0f}%)"
    if value.get("message"):
        text += f" {value['message']}"
    return text


def _stamp(at: datetime | None) -> str:
    return describe_time(at.timestamp()) if at is not None else "?"


def _epoch(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and value:
        try:
            return float(value)
        except ValueError:
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                return None
            return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
    return None
