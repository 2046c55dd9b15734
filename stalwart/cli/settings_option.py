"""Loading settings (or an app) for commands that take an optional ``-A``."""

from __future__ import annotations

from stalwart.cli.target import load_app
from stalwart.settings import Settings

__all__ = ["resolve_settings"]


def resolve_settings(target: str | None) -> Settings:
    """The app's settings when ``-A`` is given, else the environment's."""
    if target:
        return load_app(target).settings
    return Settings.from_env()
