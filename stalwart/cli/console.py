"""``stalwart console [-A MODULE:APP] [--host 127.0.0.1] [--port 8000]``: the web console."""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer

from stalwart.cli.output import console as out

__all__ = ["console"]


def console(
    app: Annotated[str | None, typer.Option("-A", "--app", help="MODULE:APP (optional)")] = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port.")] = 8000,
    hash_password: Annotated[
        bool,
        typer.Option(
            "--hash-password",
            help="Read a password (stdin) and print its argon2 hash for STALWART_CONSOLE_USERS.",
        ),
    ] = False,
    loglevel: Annotated[str, typer.Option("-l", "--loglevel")] = "WARNING",
) -> None:
    """Serve the operations console (pages, JSON API, /metrics, /healthz, /readyz)."""
    if hash_password:
        _print_hash()
        return
    # Imported here: the CLI starts fast for every other command.
    from stalwart.app import Stalwart
    from stalwart.cli.context import load_app
    from stalwart.console.server import ConsoleServer, check_bind
    from stalwart.settings import Settings

    logging.basicConfig(
        level=loglevel.upper(), format="[%(asctime)s: %(levelname)s/%(name)s] %(message)s"
    )
    stalwart_app = load_app(app) if app else Stalwart("stalwart-console", Settings.from_env())
    check_bind(host, stalwart_app.settings)  # refuse before touching any store
    stalwart_app.check_configuration()
    stalwart_app.ensure_stores()
    stalwart_app.ensure_schema()
    stalwart_app.loader.import_default_modules()
    server = ConsoleServer(stalwart_app, host=host, port=port)
    print(f"stalwart console: {server.url} ({server.auth_line})", flush=True)
    try:
        server.serve()
    finally:
        stalwart_app.release_stores()


def _print_hash() -> None:
    import getpass

    from stalwart.console.auth import hash_password

    if sys.stdin.isatty():
        password = getpass.getpass("password: ")
    else:
        password = sys.stdin.readline().rstrip("\n")
    if not password:
        raise typer.BadParameter("an empty password cannot be hashed", param_hint="stdin")
    hashed = hash_password(password)
    out.print(hashed, highlight=False, soft_wrap=True)
    print(f"entry: NAME:operator:{hashed}  (or NAME:viewer:...; join entries with ';')",
          file=sys.stderr)  # fmt: skip
