"""Resolve ``-A MODULE:APP`` to a Stalwart app, with one clear error when it cannot."""

from __future__ import annotations

import importlib
import os
import sys

from celery import Celery

from stalwart.app import Stalwart
from stalwart.errors import TargetError

__all__ = ["load_app"]


def load_app(target: str) -> Stalwart:
    """Import ``module:attribute`` (attribute defaults to ``app``) and check it is a Stalwart."""
    module_name, _, attribute = target.partition(":")
    attribute = attribute or "app"
    if not module_name:
        raise TargetError(f"-A {target!r}: expected MODULE:APP, for example 'crm.tasks:app'")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise TargetError(
                f"-A {target!r}: no module named {exc.name!r} (run from the project "
                "directory or install the package)"
            ) from None
        raise TargetError(f"-A {target!r}: importing {module_name} failed: {exc}") from None
    except Exception as exc:
        raise TargetError(
            f"-A {target!r}: importing {module_name} failed: {type(exc).__name__}: {exc}"
        ) from None
    app = getattr(module, attribute, None)
    if app is None:
        raise TargetError(f"-A {target!r}: module {module_name} has no attribute {attribute!r}")
    if isinstance(app, Stalwart):
        return app
    if isinstance(app, Celery):
        raise TargetError(
            f"-A {target!r} is a celery.Celery, not a stalwart.Stalwart: change "
            "Celery(...) to Stalwart(...) in that module"
        )
    raise TargetError(f"-A {target!r} is a {type(app).__name__}, not a stalwart.Stalwart app")
