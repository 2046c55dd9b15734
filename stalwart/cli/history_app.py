"""Opening the app behind a history command (``-A`` optional) with its schema ready."""

from __future__ import annotations

from stalwart.app import Stalwart
from stalwart.cli.target import load_app
from stalwart.settings import Settings

__all__ = ["open_app"]


def open_app(target: str | None) -> Stalwart:
    """The ``-A`` app, or an app on the environment's settings; schema checked."""
    app = load_app(target) if target else Stalwart("stalwart-cli", settings=Settings.from_env())
    app.ensure_schema()
    return app
