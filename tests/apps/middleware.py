"""An app with a user middleware that owns a task option of its own.

``Audit`` records, in Redis, every phase it sees for tasks marked ``audited=True``
(``audit:<task id>`` lists) and, on the producer side, ``audit:published``. Tasks end
each way a task can: success, a retry, a deferral, a dead letter.
"""

from __future__ import annotations

from typing import Any

from stalwart import (
    Execution,
    Middleware,
    Outcome,
    Publication,
    RetryAfter,
    RetryPolicy,
    Stalwart,
    TaskOption,
    TaskOptionError,
)
from stalwart.middleware.base import OptionTarget


def _flag(value: Any, target: OptionTarget) -> bool:
    if not isinstance(value, bool):
        raise TaskOptionError(f"audited must be True or False, not {value!r}")
    return value


AUDITED: TaskOption[bool] = TaskOption(
    "audited", parse=_flag, default=False, doc="Record every phase of this task in Redis."
)


class Audit(Middleware):
    name = "audit"
    options = (AUDITED,)

    def _log(self, app: Stalwart, task_id: str, entry: str) -> None:
        app.redis.rpush(f"audit:{task_id}", entry)

    def after_publish(self, message: Publication) -> None:
        if message.options is not None and AUDITED.of(message.options):
            entry = f"{message.name.rsplit('.', 1)[-1]}:{'again' if message.republished else 'new'}"
            message.app.redis.rpush("audit:published", entry)

    def before_execute(self, execution: Execution) -> None:
        if AUDITED.of(execution.options):
            self._log(execution.app, execution.id, f"before:{execution.retries}")

    def after_execute(self, execution: Execution, outcome: Outcome) -> None:
        if AUDITED.of(execution.options):
            self._log(execution.app, execution.id, f"after:{outcome.kind.value}")


app = Stalwart("middleware")
app.add_middleware(Audit(), after="idempotency")


@app.task(audited=True)
def fine(n: int) -> int:
    return n * 2


@app.task(
    bind=True, audited=True, retry=RetryPolicy(max_retries=2, initial_delay=0.2, jitter=False)
)
def flaky(self: Any) -> str:
    if self.request.retries == 0:
        raise ConnectionError("first try fails")
    return "second try"


@app.task(bind=True, audited=True)
def patient(self: Any) -> str:
    if not app.redis.set(f"patient:{self.request.id}", 1, nx=True):
        return "after the deferral"
    raise RetryAfter(0.3)


@app.task(audited=True)
def doomed() -> None:
    raise ValueError("never works")
