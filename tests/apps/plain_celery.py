"""A plain Celery app, to check that the CLI refuses it with a useful message."""

from celery import Celery

app = Celery("plain", broker="memory://")
