"""The ``stalwart`` command: registers each subcommand and turns user errors into one line.

Importing this module must stay cheap (``stalwart --help`` is measured against
``celery --help`` by ``stalwart bench cli``): the command modules import only Typer at
the top and everything heavy (Celery, SQLAlchemy, redis, Rich) inside the commands.
"""

from __future__ import annotations

import gc
import sys
from typing import Annotated

import typer

from stalwart import __version__
from stalwart.cli.beat import beat
from stalwart.cli.bench import bench_app
from stalwart.cli.console import console
from stalwart.cli.db import db_app
from stalwart.cli.demo import demo
from stalwart.cli.dlq import dlq_app
from stalwart.cli.health import health
from stalwart.cli.limits import limits
from stalwart.cli.queues import queues
from stalwart.cli.schedules import schedules_app
from stalwart.cli.tasks import tasks_app
from stalwart.cli.worker import PASS_THROUGH, worker
from stalwart.cli.workers import workers
from stalwart.errors import StalwartError

try:  # Typer >= 0.25 vendors Click; older versions use Click itself.
    from typer._click.exceptions import UsageError
except ImportError:  # pragma: no cover - depends on the installed Typer
    from click.exceptions import UsageError  # type: ignore[assignment]

__all__ = ["cli", "main"]

cli = typer.Typer(
    name="stalwart",
    help="Production-grade Celery: workers, scheduler, console, dead letters, history.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        print(f"stalwart {__version__}")
        raise typer.Exit(0)


@cli.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show version.")
    ] = False,
) -> None:
    """Stalwart command line."""


cli.command("demo")(demo)
cli.command("worker", context_settings=PASS_THROUGH)(worker)
cli.command("health")(health)
cli.command("limits")(limits)
cli.command("beat")(beat)
cli.add_typer(schedules_app, name="schedules")
cli.add_typer(db_app, name="db")
cli.add_typer(dlq_app, name="dlq")
cli.add_typer(bench_app, name="bench")
cli.add_typer(tasks_app, name="tasks")
cli.command("queues")(queues)
cli.command("workers")(workers)
cli.command("console")(console)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI; user mistakes print one line and exit 2."""
    _patch_concurrency(sys.argv[1:] if argv is None else argv)
    command = typer.main.get_command(cli)
    try:
        result = command.main(args=argv, prog_name="stalwart", standalone_mode=False)
    except UsageError as exc:
        where = exc.ctx.command_path if exc.ctx else "stalwart"
        return _fail(f"{exc.format_message()} (see '{where} --help')", 2)
    except StalwartError as exc:
        return _fail(str(exc), 2)
    except (typer.Abort, KeyboardInterrupt):
        return _fail("aborted", 130)
    finally:
        if argv is None:
            # Run as the `stalwart` command, the process is about to exit: spare the
            # interpreter's last garbage collection a walk over every object of
            # SQLAlchemy, pydantic and Rich (~0.1s of a short command; atexit handlers
            # and file flushing still run). Callers passing argv (tests) are left alone.
            gc.freeze()
    sys.exit(result if isinstance(result, int) else 0)


def _patch_concurrency(args: list[str]) -> None:
    """Monkey-patch for ``stalwart worker -P gevent|eventlet`` before anything else runs.

    Celery does this in ``celery.__main__``, which the ``stalwart`` command never runs;
    without it a gevent worker's greenlets block each other on every socket.
    """
    if args[:1] == ["worker"]:
        import celery

        celery.maybe_patch_concurrency(["stalwart", *args])


def _fail(message: str, code: int) -> int:
    # One plain line on stderr: no Rich wrapping, no traceback for a user's mistake.
    print(f"stalwart: error: {message}", file=sys.stderr)
    sys.exit(code)
