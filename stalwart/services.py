"""Background services that run inside Stalwart processes (worker, beat, console, demo).

A service is a small periodic job on its own daemon thread: the worker heartbeat, the
pump that moves due deferred tasks into their queues, the recorder that turns events
into history. No extra process is needed for any of them: every worker runs them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

import redis

from stalwart.errors import StoreUnavailable

__all__ = ["Service", "ServiceRunner"]

log = logging.getLogger("stalwart.services")

# A store that cannot be reached (down, restarting, not up yet) is an outage, not a bug:
# one line when it starts and one when it ends, no traceback on every tick.
OUTAGES = (redis.ConnectionError, redis.TimeoutError, ConnectionError, StoreUnavailable)


class Service:
    """A periodic job. Subclasses set ``name`` and ``interval`` and write :meth:`tick`."""

    name = "service"
    interval = 1.0

    def tick(self) -> None:
        """Do one round of work. An exception is logged; the next tick still runs."""

    def close(self) -> None:
        """Release resources when the process stops."""


class ServiceRunner:
    """Runs services on daemon threads until :meth:`stop`."""

    def __init__(self, services: Sequence[Service]) -> None:
        self.services = tuple(services)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for service in self.services:
            thread = threading.Thread(
                target=self._loop, args=(service,), name=f"stalwart-{service.name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        for service in self.services:
            try:
                service.close()
            except Exception:
                log.exception("closing %s failed", service.name)

    def _loop(self, service: Service) -> None:
        outage: str | None = None
        while not self._stop.is_set():
            try:
                service.tick()
            except OUTAGES as exc:
                if outage is None:
                    log.warning(
                        "%s: a store is unreachable (%s); retrying every %.1fs",
                        service.name,
                        exc,
                        service.interval,
                    )
                outage = str(exc)
            except Exception:
                log.exception("%s failed; retrying in %.1fs", service.name, service.interval)
            else:
                if outage is not None:
                    log.warning("%s: running again", service.name)
                    outage = None
            self._stop.wait(service.interval)
