"""The poison cap: a task that keeps killing its worker ends in the dead-letter store.

With ``acks_late`` and ``reject_on_worker_lost`` a message whose worker process dies
(SIGKILL, the OOM killer, a segfault) is put back on its queue. That is what keeps tasks
from being lost, and also what lets one poison message kill workers forever.

The broker marks every message it hands out again as *redelivered* (RabbitMQ natively;
kombu's Redis transport when it restores an unacknowledged message). Only those
deliveries are counted, in ``stalwart:deliveries:<task id>`` (one pipelined INCR+EXPIRE),
so a first delivery costs no round trip. A delivery that reaches the end of the task,
whatever the outcome, resets the count (a late rider of the result write): what remains
counts deliveries that died. A task delivered more than ``STALWART_MAX_DELIVERIES``
times (default 3) is dead-lettered (reason ``poison``) and rejected without running.
"""

from __future__ import annotations

import redis
from billiard.exceptions import WorkerLostError

from stalwart.coordination import key
from stalwart.errors import StoreUnavailable
from stalwart.middleware.base import Middleware
from stalwart.middleware.call import Execution
from stalwart.middleware.controls import GiveUp, Outcome

__all__ = ["PoisonCap", "deliveries_key"]

COUNTER_TTL = 7 * 86_400
_RESET = "redis.call('DEL', KEYS[1]) return 1"


def deliveries_key(task_id: str) -> str:
    return key("deliveries", task_id)


class PoisonCap(Middleware):
    """Counts redeliveries per task id; dead-letters a task past the cap."""

    name = "poison"
    eager = False

    def before_execute(self, execution: Execution) -> None:
        if not execution.redelivered:
            return
        counter = deliveries_key(execution.id)
        try:
            pipe = execution.app.redis.pipeline(transaction=False)
            pipe.incr(counter)
            pipe.expire(counter, COUNTER_TTL)
            redeliveries = int(pipe.execute()[0])
        except redis.RedisError as exc:
            raise StoreUnavailable(f"poison cap: coordination store unreachable: {exc}") from exc
        execution.state[self.name] = counter
        deliveries = redeliveries + 1
        limit = execution.app.settings.max_deliveries
        if deliveries <= limit:
            return
        died = deliveries - 1
        lost = WorkerLostError(
            f"the worker running this task died {died} time(s) (SIGKILL, out of memory or a "
            f"crash); STALWART_MAX_DELIVERIES={limit}, so it is not run again"
        )
        raise GiveUp("poison", lost, attempts=died)

    def after_execute(self, execution: Execution, outcome: Outcome) -> None:
        counter = execution.state.get(self.name)
        if counter is not None and not isinstance(outcome.control, GiveUp):
            execution.late(_RESET, [counter], [])
