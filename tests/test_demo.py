"""`stalwart demo` on the embedded default, as a newcomer runs it: the short demo balances
(lost 0, doubled 0, deferred and dead-lettered both seen), and whether it ends by
``--duration`` or Ctrl-C, no process it started is left."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from stalwart.demo.processes import port_is_free
from tests.support.processes import processes_using
from tests.support.services import free_port
from tests.support.workers import wait_for


def clean_env() -> dict[str, str]:
    """The environment of someone who has set nothing: the embedded default."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("STALWART_", "CRM_"))}


def two_free_ports() -> int:
    """A port P with P + 1 free too (the console and the CRM API)."""
    for _ in range(50):
        port = free_port()
        if port < 65000 and port_is_free(port + 1):
            return port
    raise AssertionError("no two consecutive free ports")


def left_behind(directory: Path) -> dict[int, str]:
    """Processes still running that the demo started in ``directory`` (by data dir in their
    command line, or by the run directory every child gets in its environment)."""
    left = {pid: "data dir in command line" for pid in processes_using(directory.resolve())}
    marker = f"CRM_RUN_DIR={directory.resolve()}".encode()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if marker in (entry / "environ").read_bytes():
                    left[int(entry.name)] = (
                        (entry / "cmdline").read_bytes().decode(errors="replace")
                    )
            except OSError:
                continue
    return left


def test_the_short_demo_balances_and_leaves_nothing_running(tmp_path: Path) -> None:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "stalwart.cli", "demo", "--duration", "20", "--json",
         "--port", str(two_free_ports())],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert "Traceback" not in output
    account = json.loads(result.stdout)
    totals = account["totals"]
    assert account["balanced"] is True, output[-6000:]
    assert all(account["checks"].values()), account["checks"]
    assert (totals["lost"], totals["doubled"], totals["in_flight"]) == (0, 0, 0)
    for fate in ("sent", "deferred", "dead_lettered", "opted_out"):
        assert totals[fate] > 0, (fate, totals)
    accounted = ("sent", "deferred", "dead_lettered", "opted_out", "invalid")
    assert sum(totals[f] for f in accounted) == account["contacts"] > 0
    deferred = [
        line for c in account["campaigns"] for line in c["lines"] if line["fate"] == "deferred"
    ]
    assert {line["reason"] for line in deferred} == {"quota"}
    dead = [
        line for c in account["campaigns"] for line in c["lines"] if line["fate"] == "dead_lettered"
    ]
    assert all(line["dead_letter"] > 0 and line["reason"] for line in dead)
    # For people (stderr): the account, unwrapped, and what to try next.
    assert "The account balanced." in result.stderr
    # The faults were injected, not skipped: the balance held through a killed worker.
    assert "SIGKILL worker child" in result.stderr, result.stderr[-6000:]
    assert "breaker sms-provider open" in result.stderr
    assert f"stalwart dlq show {dead[0]['dead_letter']}" in result.stderr
    ledger_line = next(line for line in result.stderr.splitlines() if "provider's ledger" in line)
    assert ledger_line.rstrip().endswith("provider-ledger.jsonl)")  # one line, not wrapped
    assert "demo stopped; no process left running" in result.stderr
    assert left_behind(tmp_path / ".stalwart") == {}
    assert time.monotonic() - started < 200


def test_ctrl_c_stops_every_process_it_started(tmp_path: Path) -> None:
    log = tmp_path / "demo.out"
    with open(log, "wb") as out:
        demo = subprocess.Popen(
            [sys.executable, "-m", "stalwart.cli", "demo", "--port", str(two_free_ports())],
            cwd=tmp_path,
            env=clean_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for(lambda: "campaign" in log.read_text() and "launched" in log.read_text(),
                     timeout=120, what="campaigns launched")  # fmt: skip
            assert left_behind(tmp_path / ".stalwart")  # the stack is up
            demo.send_signal(signal.SIGINT)
            code = demo.wait(timeout=120)
        finally:
            if demo.poll() is None:
                demo.kill()
    text = log.read_text()
    assert code == 130, text[-4000:]
    assert "Traceback" not in text
    assert "stopping (interrupted)" in text
    assert "demo stopped; no process left running" in text
    assert left_behind(tmp_path / ".stalwart") == {}
