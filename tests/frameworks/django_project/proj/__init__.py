"""A small Django project run the way Django teams run Celery, with Stalwart's app."""

# The app is loaded when Django starts, so that @shared_task uses it (Celery's layout).
from proj.celery import app

__all__ = ("app",)
