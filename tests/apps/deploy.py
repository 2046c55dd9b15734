"""Long tasks for the rolling-deploy test: limits well above the task's length, and
the default visibility timeout (an hour), so a requeue can only come from the
shutdown itself."""

from __future__ import annotations

import time

from stalwart import Stalwart

app = Stalwart("deploy")
app.conf.update(task_soft_time_limit=60, task_time_limit=90)

RUN_SECONDS = 14.0


@app.task(bind=True, idempotency_key="deploy:{i}")
def long_effect(self: object, i: int) -> int:
    app.redis.incr(f"t:deploy-runs:{i}")
    time.sleep(RUN_SECONDS)
    with self.idempotent_pipeline() as pipe:  # type: ignore[attr-defined]
        pipe.incr(f"t:deploy-effect:{i}")
    return i


@app.task
def short_effect(i: int, seconds: float) -> int:
    """Shorter than the soft shutdown timeout: a stopping worker lets it finish."""
    app.redis.incr(f"t:deploy-short-runs:{i}")
    time.sleep(seconds)
    app.redis.incr(f"t:deploy-short-effect:{i}")
    return i
