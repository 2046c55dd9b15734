"""``stalwart worker -A MODULE:APP [celery worker options]``: a Celery worker with
Stalwart's hooks, settings and defaults.

Every option of ``celery worker`` passes through (``-P``, ``-c``, ``-Q``, ``-n``, ``-E``,
``--autoscale``, ``--max-tasks-per-child``, ``--logfile``, ``--loglevel``, ...). They are
checked with Celery's own parser before any store is touched, so a mistake is one line
and exit status 2. Stalwart's defaults apply where an option is not given: the log level
is INFO and the node name ``pid@host`` (unique when several workers share a host).
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

import typer

from stalwart.cli.context import load_app
from stalwart.errors import StalwartError

if TYPE_CHECKING:
    from stalwart.app import Stalwart

__all__ = ["PASS_THROUGH", "worker"]

# Typer hands every option it does not know (all of Celery's) to the command.
PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True}


def worker(
    ctx: typer.Context,
    app: Annotated[str, typer.Option("-A", "--app", help="MODULE:APP, e.g. crm.tasks:app")],
) -> None:
    """Run a worker (every 'celery worker' option passes through).

    Accepts -P/--pool, -c/--concurrency, --autoscale, --max-tasks-per-child, -Q/--queues,
    -n/--hostname, -E, --logfile, -l/--loglevel and the rest of 'celery worker --help'.
    Every guarantee also holds under plain 'celery -A ... worker'.
    """
    from stalwart.compat.shutdown import ensure_cold_sigterm

    if _celery_pool(ctx.args) not in (None, "solo"):
        # Celery's own pool: SIGTERM is its soft shutdown, then requeue (see the module).
        # Stalwart's processes get theirs from the supervisor; a solo worker's would
        # freeze its running task (the wait runs on the task's thread).
        ensure_cold_sigterm(sys.argv[1:])
    stalwart_app = load_app(app)
    argv, processes, hostname = celery_argv(stalwart_app, ctx.args)
    stalwart_app.check_configuration()
    stalwart_app.ensure_stores()
    stalwart_app.ensure_schema()
    # A broker that is not up yet is waited for, inside the worker (see
    # stalwart.worker.waiting): no exit, so no crash loop in a container.
    if processes is None:
        stalwart_app.worker_main(argv)
        return
    from stalwart.worker.supervisor import Supervisor

    queues = _queues(stalwart_app, argv)
    supervisor = Supervisor(
        stalwart_app, app, processes, hostname=hostname, celery_args=argv[1:], queues=queues
    )
    raise typer.Exit(supervisor.run())


def _celery_pool(args: Sequence[str]) -> str | None:
    """The pool given with -P/--pool, if any (read before Celery parses the options)."""
    from celery import _find_option_with_arg

    try:
        return str(_find_option_with_arg(list(args), ["-P"], ["--pool"]))
    except (KeyError, IndexError):
        return None


def celery_argv(app: Stalwart, args: Sequence[str]) -> tuple[list[str], int | None, str]:
    """``celery worker`` arguments: the user's, checked by Celery's parser, plus defaults;
    and how many supervised processes to run (None: Celery's own pool, as given).

    Stalwart's process model (:mod:`stalwart.worker.supervisor`) is used unless a pool
    is given: ``-P solo`` with ``-c N`` (N > 1) is N supervised processes too; any other
    ``-P`` (prefork, threads, gevent, eventlet) is Celery's own pool."""
    import click
    from celery.bin.base import CLIContext
    from celery.bin.worker import worker as celery_worker
    from click.core import ParameterSource

    params: dict[str, object] = {}
    if app.user_options.get("worker"):  # options an app adds are known only to its own run
        given: set[str] = set()
    else:
        obj = CLIContext(app=app, no_color=True, workdir=None, quiet=True)
        try:
            parsed = celery_worker.make_context("worker", list(args), obj=obj)
        except click.UsageError as exc:
            raise StalwartError(
                f"{exc.format_message()} (see 'stalwart worker --help' and 'celery worker --help')"
            ) from None
        given = {
            name
            for name in parsed.params
            if parsed.get_parameter_source(name) is not ParameterSource.DEFAULT
        }
        params = dict(parsed.params)
    argv = ["worker", *args]
    hostname = str(params.get("hostname") or "") if "hostname" in given else ""
    if not hostname:
        hostname = f"{os.getpid()}@{socket.gethostname()}"
        argv.append(f"--hostname={hostname}")
    if "loglevel" not in given:
        argv.append("--loglevel=INFO")
    return argv, _processes(params, given), hostname


def _processes(params: dict[str, object], given: set[str]) -> int | None:
    if not params:  # the app's own worker options: leave everything to Celery
        return None
    pool = str(params.get("pool") or "") if "pool" in given else None
    if pool not in (None, "solo"):
        return None
    concurrency = params.get("concurrency") if "concurrency" in given else None
    count = int(concurrency) if isinstance(concurrency, int) else os.cpu_count() or 1
    if pool == "solo" and count <= 1:
        return None  # one plain solo worker, exactly as asked
    return max(1, count)


def _queues(app: Stalwart, argv: Sequence[str]) -> list[str]:
    """The queues the worker's processes consume (``-Q``/``--queues``, else the app's)."""
    import click
    from celery.bin.base import CLIContext
    from celery.bin.worker import worker as celery_worker

    obj = CLIContext(app=app, no_color=True, workdir=None, quiet=True)
    try:
        given = celery_worker.make_context("worker", list(argv[1:]), obj=obj).params.get("queues")
    except click.UsageError:
        given = None
    if given:
        return [str(q) for q in given]
    return [q.name for q in app.amqp.queues.consume_from.values()]
