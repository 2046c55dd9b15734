"""Long operator actions (bulk replay/discard) run on a thread, with progress to poll.

``POST /api/dlq/bulk`` starts a :class:`Job` and answers at once with its id; the page
polls ``GET /api/jobs/{id}`` for ``done``/``total`` and the outcome. Jobs live in the
console process's memory (the audit log is the durable record of what they did).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from stalwart.errors import NotFound, StalwartError

__all__ = ["Job", "Jobs"]

log = logging.getLogger("stalwart.console")
KEEP = 100


@dataclass
class Job:
    id: str
    action: str
    total: int
    actor: str
    done: int = 0
    state: str = "running"  # running | finished | failed
    result: Any = None
    error: str | None = None
    started_at: float = field(default_factory=time.time)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "action": self.action, "total": self.total, "done": self.done,
            "state": self.state, "result": self.result, "error": self.error,
            "actor": self.actor, "started_at": self.started_at,
        }  # fmt: skip


class Jobs:
    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def start(
        self, action: str, total: int, actor: str, work: Callable[[Callable[[int], None]], Any]
    ) -> Job:
        job = Job(uuid.uuid4().hex, action, total, actor)
        with self._lock:
            self._jobs[job.id] = job
            for old in list(self._jobs)[:-KEEP]:
                del self._jobs[old]

        def advance(count: int) -> None:
            job.done += count

        def run() -> None:
            try:
                job.result = work(advance)
                job.state = "finished"
            except StalwartError as exc:
                job.error, job.state = str(exc), "failed"
            except Exception as exc:
                log.exception("console job %s (%s) failed", job.id, action)
                job.error, job.state = f"{type(exc).__name__}: {exc}", "failed"

        threading.Thread(target=run, name=f"stalwart-job-{action}", daemon=True).start()
        return job

    def get(self, job_id: str) -> Job:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise NotFound(f"no job {job_id!r} (jobs are kept in the console's memory)")
        return job
