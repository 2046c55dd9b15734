"""Lua scripts run in Redis: loaded from package data or composed, sent by hash.

:meth:`Lua.run` sends ``EVALSHA`` and falls back to ``EVAL`` when Redis does not know
the script (first use, or a restart emptied its cache): one round trip either way.
:meth:`Lua.queue` adds the script to a pipeline as ``EVAL``, which can never fail with
``NOSCRIPT`` half-way through a batch; Redis caches the compiled script by its hash,
so sending the text costs bandwidth, not compilation.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import redis
from redis.exceptions import NoScriptError

__all__ = ["Lua"]


@dataclass(frozen=True)
class Lua:
    """One Lua script (its text and SHA1)."""

    text: str
    sha: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha", hashlib.sha1(self.text.encode()).hexdigest())

    @staticmethod
    @cache
    def packaged(package: str, name: str) -> Lua:
        """``<package>/lua/<name>.lua``, read once per process."""
        return Lua(resources.files(package).joinpath("lua", f"{name}.lua").read_text())

    def run(self, client: redis.Redis, keys: list[str], args: list[Any]) -> Any:
        """Run the script now (one round trip)."""
        try:
            return client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            return client.eval(self.text, len(keys), *keys, *args)

    def queue(self, pipe: Any, keys: list[str], args: list[Any]) -> None:
        """Add the script to ``pipe`` (as ``EVAL``: never ``NOSCRIPT``)."""
        pipe.eval(self.text, len(keys), *keys, *args)
