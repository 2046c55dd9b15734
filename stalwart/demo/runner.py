"""``stalwart demo``: the CRM and its whole stack in one process tree, then the account.

1. the stores (embedded Valkey + SQLite unless STALWART_* says otherwise) and schemas;
2. the processes (:mod:`.processes`): simulator, API, workers, beat, console;
3. the workload (:mod:`.scenario`) under a live view (:mod:`.view`), for ``duration``;
4. settling: until every message is sent, dead-lettered or deferred to later;
5. the account (:mod:`.account`, :mod:`.report`), and a non-zero exit if it does not
   balance.

Ctrl-C, SIGTERM or an error at any point stops every process it started (and the
embedded server once they are gone): nothing is left running.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from types import FrameType

from rich.console import Console
from rich.live import Live

from stalwart.app import Stalwart
from stalwart.demo.account import Account, Fate, collect
from stalwart.demo.calendar import business_offset, describe
from stalwart.demo.config import CrmConfig
from stalwart.demo.migrate import upgrade as upgrade_crm
from stalwart.demo.observe import Observer
from stalwart.demo.processes import free_port, port_is_free, start_console, start_stack
from stalwart.demo.report import account_lines, next_steps
from stalwart.demo.run import DemoRun
from stalwart.demo.scenario import DemoError, Scenario, next_senders
from stalwart.demo.stack import Stack
from stalwart.demo.view import live_view, status_line
from stalwart.demo.webhooks.store import unprocessed
from stalwart.errors import SettingsError
from stalwart.outbox import pending

__all__ = ["DemoOptions", "run_demo"]

TICK = 0.5
STATUS_EVERY = 5.0
SETTLE_TIMEOUT = 90.0


@dataclass(frozen=True)
class DemoOptions:
    duration: float | None  # None: until Ctrl-C
    port: int  # the console's; the CRM API listens on port + 1
    json: bool
    concurrency: int


class _Stop(Exception):
    pass


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop()


def run_demo(app: Stalwart, options: DemoOptions, out: Console) -> tuple[int, Account | None]:
    """Run the demo; the exit status and the account (None if it never got that far)."""
    for port in (options.port, options.port + 1):
        if not port_is_free(port):
            raise SettingsError(f"port {port} is in use: pass --port (the demo uses it and +1)")
    app.ensure_stores()
    app.ensure_schema()
    upgrade_crm(app.engine)
    run = _new_run(app, options)
    stack = Stack(run.run_dir, _child_env(app, run))
    previous = signal.signal(signal.SIGTERM, _raise_stop)
    scenario: Scenario | None = None
    observer: Observer | None = None
    try:
        _introduce(app, run, out)
        kill_child = start_stack(
            app, stack, run, options.port + 1, _port_of(run.simulator_url), options.concurrency
        )
        run.console_url = start_console(stack, options.port, lambda t: out.print(t, soft_wrap=True))
        run.note("stack ready: " + ", ".join(child.name for child in stack.children))
        observer = Observer(app, run)
        scenario = Scenario(run, app.engine, kill_child)
        shown = _drive(stack, run, scenario, observer, options.duration, out)
        account = _settle(app, run, stack, observer, out)
        _print_events(run, out, shown)
        _report(account, run, options, out)
        return (0 if account.balanced else 1), account
    except (KeyboardInterrupt, _Stop):
        out.print("stopping (interrupted): the account below is what was settled so far")
        if not run.campaign_ids:
            return 130, None
        partial = collect(app, run)
        _report(partial, run, options, out)
        return 130, partial
    except DemoError as exc:
        out.print(f"[red]the demo stopped:[/] {exc}", soft_wrap=True)
        return 1, None
    finally:
        signal.signal(signal.SIGTERM, previous)
        for part in (scenario, observer):
            if part is not None:
                part.close()
        stack.stop()
        app.release_stores(wait=app.settings.embedded_idle_seconds + 10)
        out.print("demo stopped; no process left running")


def _new_run(app: Stalwart, options: DemoOptions) -> DemoRun:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    run_dir = (app.settings.data_dir / "demo" / f"run-{stamp}-{os.getpid()}").resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    simulator_port = free_port()
    config = CrmConfig(
        provider_url=f"http://127.0.0.1:{simulator_port}",
        provider_key=secrets.token_hex(16),
        webhook_secret=secrets.token_hex(32),
        clock_offset=business_offset(),
        provider_timeout=1.0,
    )
    return DemoRun(
        run_dir=run_dir,
        config=config,
        api_url=f"http://127.0.0.1:{options.port + 1}",
        simulator_url=config.provider_url,
        senders=next_senders(app.engine),
    )


def _child_env(app: Stalwart, run: DemoRun) -> dict[str, str]:
    env = dict(os.environ)
    env.update(run.config.as_env())
    env["STALWART_DATA_DIR"] = str(app.settings.data_dir.resolve())
    env["CRM_RUN_DIR"] = str(run.run_dir)  # marks every process of this run
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def _introduce(app: Stalwart, run: DemoRun, out: Console) -> None:
    def say(text: str) -> None:
        out.print(text, soft_wrap=True)

    data_dir = app.settings.data_dir.resolve()
    say(f"[bold]Stalwart demo[/]: a CRM's messaging back end; data in {data_dir}")
    now = time.time()
    if run.config.clock_offset:
        say(
            f"It is {describe(now)} (outside business hours), so the CRM's clock starts at "
            f"{describe(now + run.config.clock_offset)}: windows and quotas follow that clock."
        )
    else:
        say(f"It is {describe(now)}: New York business hours are open; the real clock is used.")
    say(f"CRM API {run.api_url}/demo/docs · provider simulator {run.simulator_url}")
    say(f"logs of every process: {run.run_dir}")


def _drive(
    stack: Stack,
    run: DemoRun,
    scenario: Scenario,
    observer: Observer,
    duration: float | None,
    out: Console,
) -> int:
    """The workload under the live view, until ``duration`` (and the script) is over.

    Returns how many timeline events were printed.
    """
    live = Live(console=out, refresh_per_second=4, transient=True) if out.is_terminal else None
    shown, last_status = 0, 0.0
    if live is not None:
        live.start()
    try:
        while not (scenario.done and duration is not None and run.elapsed >= duration):
            _check(stack)
            scenario.tick()
            snapshot = observer.snapshot()
            if live is not None:
                live.update(live_view(snapshot, run, duration))
            else:
                shown = _print_events(run, out, shown)
                if time.monotonic() - last_status >= STATUS_EVERY:
                    last_status = time.monotonic()
                    out.print(status_line(snapshot, run), soft_wrap=True, highlight=False)
            time.sleep(TICK)
    finally:
        if live is not None:
            live.stop()
    return _print_events(run, out, 0 if live is not None else shown)


def _settle(app: Stalwart, run: DemoRun, stack: Stack, observer: Observer, out: Console) -> Account:
    """Wait until every message rests (sent, dead-lettered, deferred to later)."""
    out.print(
        "settling: waiting for retries, short deferrals and webhooks to finish "
        f"(at most {SETTLE_TIMEOUT:.0f}s)",
        soft_wrap=True,
    )
    deadline = time.monotonic() + SETTLE_TIMEOUT
    moving = ""
    while time.monotonic() < deadline:
        _check(stack)
        account = collect(app, run)
        webhooks = observer.provider_stats().get("webhooks", {}).get("pending", 1)
        waits = {
            "sends": account.count(Fate.IN_FLIGHT),
            "outbox rows": pending(app),
            "webhook events to process": unprocessed(app.engine),
            "webhooks the provider still has to deliver": webhooks,
        }
        moving = ", ".join(f"{count} {what}" for what, count in waits.items() if count)
        if not moving:
            run.note("settled: every message has come to rest")
            return account
        time.sleep(1.0)
    run.note(f"not settled after {SETTLE_TIMEOUT:.0f}s ({moving}): what still moves is lost")
    return collect(app, run, final=True)


def _report(account: Account, run: DemoRun, options: DemoOptions, out: Console) -> None:
    """The account for people on ``out`` (stderr with ``--json``), and JSON on stdout."""
    for line in account_lines(account, run) + next_steps(account, run):
        out.print(line, soft_wrap=True, highlight=False)
    if options.json:
        timeline = [vars(moment) for moment in run.timeline]
        data = account.as_dict() | {"run_dir": str(run.run_dir), "timeline": timeline}
        print(json.dumps(data, indent=2))


def _print_events(run: DemoRun, out: Console, start: int) -> int:
    for moment in run.timeline[start:]:
        out.print(f"  +{moment.at:5.1f}s  {moment.text}", soft_wrap=True, highlight=False)
    return len(run.timeline)


def _check(stack: Stack) -> None:
    exited = stack.exited()
    if exited is not None:
        raise DemoError(
            f"{exited.name} exited with status {exited.process.returncode}; "
            f"the end of {exited.log_path}:\n{exited.tail()}"
        )
