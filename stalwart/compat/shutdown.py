"""SIGTERM starts Celery's cold shutdown in ``stalwart worker``: soft timeout, then requeue.

Orchestrators stop a container with SIGTERM and a grace period (Kubernetes: 30 s),
then SIGKILL. Celery's default SIGTERM is a *warm* shutdown that waits for every
running task, however long: a 30 s task kept the worker up 30.3 s, past the grace
period. Celery's cold shutdown honours ``worker_soft_shutdown_timeout`` (a hardened
default, 10 s), then cancels what still runs; with ``acks_late`` those messages go
back to their queue and run once on the replacement worker. Celery selects it for
SIGTERM with ``REMAP_SIGTERM=SIGQUIT``, read by billiard (``billiard.common``, 5.x)
when it is first imported, so ``stalwart worker`` sets it and re-executes itself once
if it was not set. Set ``REMAP_SIGTERM`` yourself (any value) to keep your own choice;
plain ``celery worker`` users set ``REMAP_SIGTERM=SIGQUIT`` in the container's
environment (docs/DEPLOY.md).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

__all__ = ["ensure_cold_sigterm"]

VARIABLE = "REMAP_SIGTERM"


def ensure_cold_sigterm(argv: Sequence[str]) -> None:
    """Re-execute ``python -m stalwart.cli *argv`` with REMAP_SIGTERM=SIGQUIT, once."""
    if VARIABLE in os.environ:
        return
    env = {**os.environ, VARIABLE: "SIGQUIT"}
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, "-m", "stalwart.cli", *argv], env)
