"""The Celery worker's start: refusing it with one line, and honouring a stop signal.

Written against Celery 5.7:

- ``celery.bin.worker.worker``: a ``SecurityError`` raised while the worker is built
  (``app.Worker(...)``, which constructs the bootsteps) is printed as one line and the
  command exits 1, the path Celery's own refusal to accept pickle as root takes. Any
  other exception there, or later in a bootstep's ``start``, is printed with its
  traceback ("Unrecoverable error").
- ``celery.worker.state.maybe_shutdown``: the worker's signal handlers only set a flag;
  code that blocks the worker's start (waiting for the broker) calls this between
  attempts, as Celery's consumer does while it connects.
"""

from __future__ import annotations

from typing import NoReturn

from celery.exceptions import SecurityError
from celery.worker.state import maybe_shutdown

__all__ = ["refuse_start", "stop_if_asked"]


def refuse_start(message: str) -> NoReturn:
    """Stop the worker being built with ``message`` (one line, exit status 1)."""
    raise SecurityError(message)


def stop_if_asked() -> None:
    """Raise Celery's ``WorkerShutdown``/``WorkerTerminate`` if a signal asked to stop."""
    maybe_shutdown()
