"""Serving the console: the bind check, and a server that runs on a thread and stops.

:func:`check_bind` is the rule "no auth, loopback only": with neither
``STALWART_CONSOLE_TOKEN`` nor ``STALWART_CONSOLE_USERS`` the console refuses any
other address, in one line. :class:`ConsoleServer` runs uvicorn on a background
thread (for ``stalwart demo``, tests and embedding)::

    server = ConsoleServer(app, host="127.0.0.1", port=0).start()
    print(server.url)
    ...
    server.stop()
"""

from __future__ import annotations

import errno
import socket
import threading
import time
from typing import TYPE_CHECKING

import uvicorn

from stalwart.console.app import create_app
from stalwart.console.loopback import is_loopback
from stalwart.errors import SettingsError, StalwartError
from stalwart.settings import Settings

if TYPE_CHECKING:
    from stalwart.app import Stalwart

__all__ = ["ConsoleServer", "check_bind", "is_loopback"]


def check_bind(host: str, settings: Settings) -> str:
    """Refuse a non-loopback address without auth; return a line describing the auth."""
    has_auth = settings.console_token is not None or bool(settings.console_users)
    if not has_auth and not is_loopback(host):
        raise SettingsError(
            f"refusing to listen on {host} without authentication: set STALWART_CONSOLE_TOKEN "
            "or STALWART_CONSOLE_USERS, or listen on 127.0.0.1"
        )
    if not has_auth:
        return "no STALWART_CONSOLE_TOKEN or STALWART_CONSOLE_USERS: loopback only, no login"
    parts = []
    if settings.console_token is not None:
        parts.append("bearer token")
    if settings.console_users:
        parts.append(f"{len(settings.console_users)} user(s)")
    return "authentication: " + " and ".join(parts)


def _listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket. Created with ``IPPROTO_TCP`` (not 0, as
    ``socket.create_server`` does) so that asyncio sets TCP_NODELAY on each accepted
    connection: without it every keep-alive answer waited ~40 ms for a delayed ACK."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )[0]
    except socket.gaierror as exc:
        raise StalwartError(f"cannot listen on {host!r}: {exc.strerror}") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        busy = exc.errno == errno.EADDRINUSE
        hint = "; choose another --port (0 picks a free one)" if busy else ""
        raise StalwartError(f"cannot listen on {host} port {port}: {exc.strerror}{hint}") from None
    return sock


class ConsoleServer:
    """The console of ``app`` served by uvicorn on a daemon thread."""

    def __init__(self, app: Stalwart, host: str = "127.0.0.1", port: int = 8000,
                 services: bool = True) -> None:  # fmt: skip
        self.auth_line = check_bind(host, app.settings)
        self.host = host
        self._socket = _listen(host, port)
        self.port = int(self._socket.getsockname()[1])
        self.asgi = create_app(app, services=services)
        config = uvicorn.Config(
            self.asgi, log_level="warning", access_log=False,
            lifespan="on", timeout_graceful_shutdown=5,
        )  # fmt: skip
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self, timeout: float = 30.0) -> ConsoleServer:
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]},
            name="stalwart-console", daemon=True,
        )  # fmt: skip
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the console did not start (see its log)")
            time.sleep(0.02)
        return self

    def serve(self) -> None:
        """Serve on this thread until interrupted (what ``stalwart console`` does)."""
        self._server.run(sockets=[self._socket])

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        self._socket.close()
