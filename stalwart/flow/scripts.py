"""The Lua scripts of flow control and the durable schedule, loaded from package data.

Each script runs atomically in Redis. redis-py's ``Script`` sends ``EVALSHA`` and
loads the script on ``NOSCRIPT``. Inside a pipeline, though, it first asks ``SCRIPT
EXISTS`` (a round trip of its own), so batched calls use :func:`queue` instead:
plain ``EVALSHA`` in the pipeline, scripts loaded once per client, and
:func:`execute` loads them again and retries once if Redis lost them (a restart).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

import redis
from redis.commands.core import Script
from redis.exceptions import NoScriptError

__all__ = ["execute", "queue", "script"]

NAMES = ("check", "finish", "schedule", "move_due", "claim_due", "renew")


@cache
def source(name: str) -> str:
    """The text of ``lua/<name>.lua``."""
    if name not in NAMES:
        raise KeyError(name)
    return resources.files("stalwart.flow").joinpath("lua", f"{name}.lua").read_text()


_scripts: weakref.WeakKeyDictionary[redis.Redis, dict[str, Script]] = weakref.WeakKeyDictionary()


def script(client: redis.Redis, name: str) -> Script:
    """A callable script bound to ``client`` (pass ``client=pipeline`` to batch it)."""
    known = _scripts.get(client)
    if known is None:
        known = _scripts.setdefault(client, {})
    found = known.get(name)
    if found is None:
        found = known[name] = client.register_script(source(name))
    return found


def queue(pipe: Any, client: redis.Redis, name: str, keys: list[str], args: list[Any]) -> None:
    """Add an ``EVALSHA`` of script ``name`` to ``pipe`` (a pipeline of ``client``)."""
    found = script(client, name)
    if not getattr(found, "_stalwart_loaded", False):
        client.script_load(found.script)
        found._stalwart_loaded = True  # type: ignore[attr-defined]
    pipe.evalsha(found.sha, len(keys), *keys, *args)


def execute(client: redis.Redis, build: Callable[[Any], None]) -> list[Any]:
    """Run a pipeline that ``build`` fills (with :func:`queue`), reloading lost scripts."""
    for attempt in (1, 2):
        pipe = client.pipeline(transaction=False)
        build(pipe)
        try:
            return list(pipe.execute())
        except NoScriptError:
            if attempt == 2:
                raise
            for found in _scripts.get(client, {}).values():
                found._stalwart_loaded = False  # type: ignore[attr-defined]
    raise AssertionError("unreachable")
