"""The worker's start-up banner, telling Celery's monitoring events from Stalwart's history.

Celery's banner says ``task events: OFF (enable -E to monitor tasks in this worker)``
unless ``-E`` is given; that reads as if nothing were recorded, while Stalwart's task
history (its own event stream, ``stalwart tasks ls``) is always on. The line now says
both. Written against Celery 5.5-5.7's ``celery.apps.worker.Worker.startup_info``; if
the wording changes, the banner is left as Celery prints it.
"""

from __future__ import annotations

from typing import Any

from celery.apps.worker import Worker as CeleryWorker

__all__ = ["Worker"]

CELERY_OFF = "OFF (enable -E to monitor tasks in this worker)"
STALWART_OFF = "OFF for Celery monitors (-E to send them); Stalwart history ON"
STALWART_ON = "ON; Stalwart history ON"


class Worker(CeleryWorker):  # type: ignore[misc]
    """Celery's worker application with Stalwart's line in the banner."""

    def startup_info(self, artlines: bool = True) -> Any:
        info = super().startup_info(artlines)
        if not isinstance(info, str):
            return info
        lines = info.split("\n")
        for index, line in enumerate(lines):
            if "task events:" in line:
                if line.endswith(CELERY_OFF):
                    lines[index] = line[: -len(CELERY_OFF)] + STALWART_OFF
                elif line.endswith("ON"):
                    lines[index] = line[: -len("ON")] + STALWART_ON
        return "\n".join(lines)
