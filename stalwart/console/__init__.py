"""The operations console: web pages, their JSON twins under ``/api``, ``/metrics``, probes.

Start it with ``stalwart console -A pkg.module:app``, or from Python::

    from stalwart.console import ConsoleServer, create_app

    server = ConsoleServer(app, host="127.0.0.1", port=8000).start()   # a thread
    ...
    server.stop()

Layout: :mod:`.app` builds the ASGI app; :mod:`.middleware` and :mod:`.auth` decide
who may do what; :mod:`.routes` holds one thin module per page (data from
:mod:`stalwart.ops`, the history/dead-letter/schedule stores, the same modules the
CLI uses); :mod:`.stats` and :mod:`.metrics` collect what the charts and ``/metrics``
show; :mod:`.server` binds and serves. See docs/CONSOLE.md.
"""

from stalwart.console.app import create_app
from stalwart.console.server import ConsoleServer, check_bind

__all__ = ["ConsoleServer", "check_bind", "create_app"]
