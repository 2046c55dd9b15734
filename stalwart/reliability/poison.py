"""The poison cap: a task that keeps killing its worker ends in the dead-letter store.

With ``acks_late`` and ``reject_on_worker_lost`` a message whose worker process dies
(SIGKILL, the OOM killer, a segfault) is put back on its queue. That is what keeps tasks
from being lost, and also what lets one poison message kill workers forever.

The broker marks every message it hands out again as *redelivered* (RabbitMQ natively;
kombu's Redis transport when it restores an unacknowledged message). Only those
deliveries are counted, in ``stalwart:deliveries:<task id>`` (one pipelined INCR+EXPIRE),
so a first delivery costs no round trip. A delivery that reaches the end of the task,
whatever the outcome, resets the count: what remains counts deliveries that died. A
task delivered more than ``STALWART_MAX_DELIVERIES`` times (default 3) is dead-lettered
and rejected without running again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import redis
from billiard.exceptions import WorkerLostError

from stalwart.coordination import key
from stalwart.deadletter.tables import DeadReason
from stalwart.deadletter.writer import DeadLetterDraft, write_dead_letter
from stalwart.errors import StoreUnavailable
from stalwart.hooks import Outcome, TaskCall, TaskHook
from stalwart.reliability.failure import DeadLettered

if TYPE_CHECKING:
    from stalwart.app import Stalwart

__all__ = ["PoisonCap", "deliveries_key"]

COUNTER_TTL = 7 * 86_400
_COUNTED = "poison.counted"


def deliveries_key(task_id: str) -> str:
    return key("deliveries", task_id)


class PoisonCap(TaskHook):
    """Counts redeliveries per task id; dead-letters a task past the cap."""

    def __init__(self, app: Stalwart) -> None:
        self.app = app

    def before_execute(self, call: TaskCall) -> None:
        request = call.task.request
        if not (request.delivery_info or {}).get("redelivered"):
            return
        try:
            pipe = self.app.redis.pipeline(transaction=False)
            pipe.incr(deliveries_key(call.id))
            pipe.expire(deliveries_key(call.id), COUNTER_TTL)
            redeliveries = int(pipe.execute()[0])
        except redis.RedisError as exc:
            raise StoreUnavailable(f"poison cap: coordination store unreachable: {exc}") from exc
        call.state[_COUNTED] = True
        deliveries = redeliveries + 1
        limit = self.app.settings.max_deliveries
        if deliveries <= limit:
            return
        died = deliveries - 1
        lost = WorkerLostError(
            f"the worker running this task died {died} time(s) (SIGKILL, out of memory or a "
            f"crash); STALWART_MAX_DELIVERIES={limit}, so it is not run again"
        )
        if call.task.stalwart_options.dead_letter:
            draft = DeadLetterDraft.from_request(call.task, lost, DeadReason.POISON, died)
            try:
                write_dead_letter(self.app, draft)
            except Exception as exc:
                raise StoreUnavailable(f"dead-letter store unavailable: {exc}") from exc
        raise DeadLettered(str(lost))

    def after_execute(self, call: TaskCall, outcome: Outcome) -> None:
        if call.state.get(_COUNTED) and not isinstance(outcome.exc, DeadLettered):
            self.app.redis.delete(deliveries_key(call.id))
