"""Starting the demo's processes and waiting until each one is ready.

The stack: the provider simulator, the CRM's API, two workers (``campaigns``, and
``webhooks,imports,maintenance``), a beat, and the console when this build has one.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable

import httpx

from stalwart.app import Stalwart
from stalwart.demo.run import DemoRun
from stalwart.demo.scenario import DemoError
from stalwart.demo.simulator.faults import FaultPlan
from stalwart.demo.stack import Child, Stack
from stalwart.worker.heartbeat import list_workers

__all__ = ["APP", "READY_TIMEOUT", "free_port", "start_console", "start_stack"]

APP = "stalwart.demo.tasks:app"
READY_TIMEOUT = 120.0
# The simulator answers slowly (1.6s) for 1% of first attempts; the CRM waits 1s.
DEMO_FAULTS = FaultPlan(slow_seconds=1.6)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def start_stack(
    app: Stalwart, stack: Stack, run: DemoRun, api_port: int, sim_port: int, concurrency: int
) -> Callable[[], int | None]:
    """Start every process and wait for them; returns the "kill a worker child" fault."""
    webhook = f"{run.api_url}/demo/webhooks/sms"
    plan = json.dumps(DEMO_FAULTS.as_dict())
    stack.spawn(
        "simulator",
        ["-m", "stalwart.demo", "simulator", "--port", str(sim_port), "--webhook-url", webhook,
         "--ledger", str(run.ledger_path), "--plan", plan],
    )  # fmt: skip
    stack.spawn("api", ["-m", "stalwart.demo", "api", "--port", str(api_port)])
    suffix = f"{os.getpid()}@{socket.gethostname()}"
    campaigns = _worker(stack, "worker-campaigns", "campaigns", concurrency, f"campaigns-{suffix}")
    _worker(stack, "worker-ingest", "webhooks,imports,maintenance", 2, f"ingest-{suffix}")
    stack.spawn("beat", ["-m", "stalwart.cli", "beat", "-A", APP, "-l", "WARNING"])
    deadline = time.monotonic() + READY_TIMEOUT
    for url in (f"{run.simulator_url}/healthz", f"{run.api_url}/demo/healthz"):
        _wait(stack, deadline, lambda url=url: _answers(url), url)  # type: ignore[misc]
    hostnames = {f"campaigns-{suffix}", f"ingest-{suffix}"}
    _wait(
        stack,
        deadline,
        lambda: hostnames <= {w.hostname for w in list_workers(app.redis)},
        "workers",
    )
    return lambda: _kill_pool_child(campaigns)


def start_console(stack: Stack, port: int, say: Callable[[str], None]) -> str | None:
    """THE place the demo starts the console (``stalwart console``), when it exists."""
    if importlib.util.find_spec("stalwart.console") is None:
        say("console: not part of this build (no stalwart.console module); skipped")
        return None
    stack.spawn("console", ["-m", "stalwart.cli", "console", "-A", APP, "--port", str(port)])
    url = f"http://127.0.0.1:{port}/"
    _wait(stack, time.monotonic() + READY_TIMEOUT, lambda: _answers(url + "healthz"), "console")
    say(f"console {url} (the operations console: watch the campaigns, open a dead letter)")
    return url


def _worker(stack: Stack, name: str, queues: str, concurrency: int, hostname: str) -> Child:
    return stack.spawn(
        name,
        ["-m", "stalwart.cli", "worker", "-A", APP, "-Q", queues, "-c", str(concurrency),
         "-n", hostname, "-l", "WARNING"],
    )  # fmt: skip


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _wait(stack: Stack, deadline: float, ready: Callable[[], object], what: str) -> None:
    while not ready():
        exited = stack.exited()
        if exited is not None:
            raise DemoError(
                f"{exited.name} exited with status {exited.process.returncode} while starting; "
                f"the end of {exited.log_path}:\n{exited.tail()}"
            )
        if time.monotonic() > deadline:
            raise DemoError(
                f"{what} not ready after {READY_TIMEOUT:.0f}s (logs in {stack.run_dir})"
            )
        time.sleep(0.1)


def _kill_pool_child(worker: Child) -> int | None:
    """SIGKILL one process of ``worker`` that runs tasks: a supervised worker process
    (``--pool=solo``, the default model) or a prefork pool child (a fork: the same
    command line as its parent). Looks for up to two seconds: a pool may be replacing
    a process just then."""
    deadline = time.monotonic() + 2.0
    while True:
        commands = _children(worker.pid)
        parent = _command(worker.pid)
        pool = [
            pid
            for pid, command in commands.items()
            if command == parent or "--pool=solo" in command
        ]
        if pool:
            os.kill(min(pool), signal.SIGKILL)
            return min(pool)
        if time.monotonic() > deadline:
            return None
        time.sleep(0.1)


def _children(pid: int) -> dict[int, str]:
    """The command lines of ``pid``'s child processes (from ``ps``: Linux and macOS)."""
    listing = subprocess.run(
        ["ps", "-A", "-ww", "-o", "pid=,ppid=,command="],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    rows = [line.split(None, 2) for line in listing.splitlines()]
    return {int(row[0]): row[2] for row in rows if len(row) == 3 and row[1] == str(pid)}


def _command(pid: int) -> str | None:
    listing = subprocess.run(
        ["ps", "-ww", "-o", "command=", "-p", str(pid)], capture_output=True, text=True, check=False
    ).stdout
    return listing.strip() or None
