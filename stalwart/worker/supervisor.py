"""``stalwart worker``'s process model: one single-process Celery worker per core under a
supervisor.

Celery's prefork pool funnels every message through one parent process, which reads
Redis and feeds its children and saturates a core while they wait; separate ``solo``
workers each consume, run and acknowledge on their own (two of them drained 2.07x one
``prefork -c2`` here, docs/PERFORMANCE.md). What prefork does well is notice at once
when a child dies and put its message back. The supervisor keeps that:

- it starts ``processes`` Celery workers (``--pool solo``) on the app, each named
  ``<name>-<i>@<host>`` after the supervisor's own ``<name>@<host>``, each with a holder
  id of its own (``_STALWART_HOLDER``): their
  transport keeps the delivery tags they hold in ``stalwart:held:<holder>``, in the same
  pipelines as kombu's unacknowledged copies (:mod:`stalwart.compat.transport`);
- when one dies (SIGKILL, the OOM killer, a segfault) it puts exactly the messages that
  process held back on their queues at once (kombu's ``restore_by_tag``, marked
  redelivered, so the poison cap counts it) and starts a new process;
- it runs the app's background services (pump, recorder, retention) once for all of
  them; the worker processes run only their heartbeat;
- SIGTERM/SIGINT is passed on as a warm shutdown: every process stops consuming and
  finishes the task it runs. One still running after ``worker_soft_shutdown_timeout``
  (10 s) is killed and the message it held put back at once, for another worker.
  This is the soft shutdown of Celery's cold shutdown, done from outside: inside a
  ``solo`` process Celery would wait out the timeout in a signal handler, on the thread
  that runs the task, so the task would stand still until it was cancelled.

If the supervisor itself is killed, its processes notice they were re-parented and do
their cold shutdown (:mod:`stalwart.worker.orphan`); their unacknowledged messages come
back as usual.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import TYPE_CHECKING

from stalwart.compat.transport import HOLDER_VARIABLE, held_key
from stalwart.services import ServiceRunner
from stalwart.worker.heartbeat import Heartbeat, list_workers

if TYPE_CHECKING:
    from stalwart.app import Stalwart

__all__ = ["SUPERVISOR_VARIABLE", "Supervisor", "put_back_held"]

# Internal (not a setting): the supervisor's pid, in the environment of its processes.
SUPERVISOR_VARIABLE = "_STALWART_SUPERVISOR"

log = logging.getLogger("stalwart.worker")

POLL = 0.1
# The least a stopping process gets to finish its task and exit, whatever the setting.
MIN_STOP = 1.0
# Seconds before a restart, by consecutive quick deaths (a process that keeps dying
# at start-up is restarted less and less often; a killed one at once).
RESTART_BACKOFF = (0.0, 0.0, 0.0, 1.0, 2.0, 5.0)


@dataclass
class _Process:
    index: int
    hostname: str
    holder: str = ""
    popen: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    quick_deaths: int = 0
    restart_at: float = 0.0


@dataclass
class Supervisor:
    """Runs and watches the worker processes of one ``stalwart worker``."""

    app: Stalwart
    target: str  # -A MODULE:APP
    processes: int
    hostname: str = field(default_factory=lambda: f"stalwart-{os.getpid()}@{socket.gethostname()}")
    celery_args: Sequence[str] = ()
    queues: Sequence[str] = ()  # shown in its heartbeat

    def __post_init__(self) -> None:
        name, _, host = self.hostname.partition("@")
        host = host or socket.gethostname()
        self._children = [_Process(i, f"{name}-{i}@{host}") for i in range(1, self.processes + 1)]
        self._stopping = False

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        # The supervisor's own heartbeat (pool "supervisor") says the group is up, from
        # the moment one of its processes consumes; each process sends its own as well.
        heartbeat = _GroupHeartbeat(
            [child.hostname for child in self._children],
            self.app.redis,
            hostname=self.hostname,
            pool="supervisor",
            concurrency=self.processes,
            queues=list(self.queues),
        )
        services = ServiceRunner([heartbeat, *self.app.background_services()])
        services.start()
        try:
            for child in self._children:
                self._start(child)
            while not self._stopping:
                self._watch()
                time.sleep(POLL)
            return self._shutdown()
        finally:
            services.stop()

    # -- children -----------------------------------------------------------------------------

    def _start(self, child: _Process) -> None:
        child.holder = f"{child.hostname}:{uuid.uuid4().hex[:8]}"
        env = {
            **os.environ,
            HOLDER_VARIABLE: child.holder,
            SUPERVISOR_VARIABLE: str(os.getpid()),
        }
        env.pop("REMAP_SIGTERM", None)  # SIGTERM is a warm shutdown: the timeout is ours
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            self.target,
            "worker",
            *self.celery_args,  # the user's options; then what each process must be
            "--pool=solo",
            "--concurrency=1",
            f"--hostname={child.hostname}",
        ]
        child.popen = subprocess.Popen(command, env=env)
        child.started = time.monotonic()
        log.info("started worker process %s (pid %s)", child.hostname, child.popen.pid)

    def _watch(self) -> None:
        now = time.monotonic()
        for child in self._children:
            if child.popen is None:
                if now >= child.restart_at:
                    self._start(child)
                continue
            code = child.popen.poll()
            if code is None:
                continue
            put_back = put_back_held(self.app, child.holder)
            log.warning(
                "worker process %s exited with %s; %d message(s) it held put back",
                child.hostname,
                code,
                put_back,
            )
            quick = now - child.started < 10
            child.quick_deaths = child.quick_deaths + 1 if quick else 0
            backoff = RESTART_BACKOFF[min(child.quick_deaths, len(RESTART_BACKOFF) - 1)]
            child.popen, child.restart_at = None, now + backoff

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        self._stopping = True

    def _shutdown(self) -> int:
        running = [c for c in self._children if c.popen is not None and c.popen.poll() is None]
        for child in running:
            assert child.popen is not None
            child.popen.send_signal(signal.SIGTERM)  # warm: finish the running task, stop
        soft = max(float(self.app.conf.worker_soft_shutdown_timeout or 0), MIN_STOP)
        deadline = time.monotonic() + soft
        for child in running:
            assert child.popen is not None
            try:
                child.popen.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.popen.kill()
                child.popen.wait()
                log.warning(
                    "worker process %s still ran a task after %.0fs "
                    "(worker_soft_shutdown_timeout); killed, %d message(s) it held put back",
                    child.hostname,
                    soft,
                    put_back_held(self.app, child.holder),
                )
        for child in self._children:
            if child.holder:
                put_back_held(self.app, child.holder)
        return 0


class _GroupHeartbeat(Heartbeat):
    """The supervisor's heartbeat, sent only while one of its processes sends one."""

    def __init__(self, members: list[str], *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.members = set(members)

    def tick(self) -> None:
        if any(w.hostname in self.members for w in list_workers(self.client)):
            super().tick()


def put_back_held(app: Stalwart, holder: str) -> int:
    """Put every message ``holder`` still held back on its queue; returns how many."""
    client = app.delays.broker_client
    key = held_key(holder)
    tags = [tag.decode() if isinstance(tag, bytes) else str(tag) for tag in client.smembers(key)]
    if tags:
        with app.connection_for_write() as connection:
            qos = connection.default_channel.qos
            for tag in tags:
                qos.restore_by_tag(tag)
    client.delete(key)
    return len(tags)
