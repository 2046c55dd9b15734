"""The Celery app of the project: ``Stalwart`` where Celery's docs write ``Celery``."""

import os

from stalwart import Stalwart

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")

app = Stalwart("proj")
# Celery settings from Django's settings.py, each prefixed CELERY_ (CELERY_TASK_DEFAULT_QUEUE
# is task_default_queue). Stalwart's own settings stay STALWART_* environment variables.
app.config_from_object("django.conf:settings", namespace="CELERY")
# Finds tasks.py in every installed Django app.
app.autodiscover_tasks()
