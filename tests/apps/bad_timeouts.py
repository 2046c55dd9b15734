"""An app whose Celery overrides break the timeout order (the worker must refuse it)."""

from stalwart import Stalwart

app = Stalwart("bad-timeouts")
app.conf.update(task_soft_time_limit=900, task_time_limit=600)
