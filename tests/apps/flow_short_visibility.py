"""The flow test tasks on an app whose Redis visibility timeout is 10 s: a broker ETA
longer than that would be delivered again (kombu#337); the durable schedule must not."""

from __future__ import annotations

from stalwart import Stalwart
from tests.apps.flow import register

app = Stalwart("flowtests-short-visibility")
app.conf.update(
    broker_transport_options={"visibility_timeout": 10},
    result_backend_transport_options={"visibility_timeout": 10},
    task_soft_time_limit=5,
    task_time_limit=8,
)
tasks = register(app)
