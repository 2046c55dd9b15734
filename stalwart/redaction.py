"""Masking secrets (``STALWART_REDACT`` names) wherever task arguments are recorded or shown.

History stores what a task was called with so operators can search it, and the
dead-letter store shows a failed call's arguments (keeping the replayable payload
intact): neither may show a password. A value is masked when its argument name, or
any dictionary key inside it, is one of the redacted names. Positional arguments are
named through the task's signature when the task is known to this process.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["MASK", "Redactor", "clip", "positional_names"]

MASK = "***"
MAX_TEXT = 4000


def clip(text: str | None, limit: int = MAX_TEXT) -> str | None:
    """``text`` cut to ``limit`` characters (marked), for columns that must stay small."""
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 14] + "...[truncated]"


class Redactor:
    """Masks values by name; caches the parameter names of each task."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = frozenset(name.lower() for name in names)
        self._params: dict[str, tuple[str, ...] | None] = {}

    def value(self, value: Any) -> Any:
        """``value`` with every dict entry under a redacted key masked (recursively)."""
        if isinstance(value, dict):
            return {
                k: MASK if str(k).lower() in self.names else self.value(v) for k, v in value.items()
            }
        if isinstance(value, list | tuple):
            return [self.value(item) for item in value]
        return value

    def call(
        self, args: Any, kwargs: Any, function: Callable[..., Any] | None = None
    ) -> tuple[list[Any], dict[str, Any]]:
        """Masked copies of a call's ``args`` and ``kwargs`` (names from ``function``)."""
        params = positional_names(function) if function is not None else None
        params = params or ()
        masked_args = [
            MASK if index < len(params) and params[index].lower() in self.names else self.value(a)
            for index, a in enumerate(args or ())
        ]
        return masked_args, self.value(dict(kwargs or {}))

    def arguments(
        self,
        name: str,
        args: Any,
        kwargs: Any,
        function: Callable[..., Any] | None = None,
    ) -> tuple[str | None, str]:
        """Redacted ``(args_json, kwargs_json)`` of a call of task ``name``.

        Positional arguments of a task whose signature this process does not know
        (``send_task`` by name) cannot be told apart: they are left out (None), and
        the worker, which knows the task, records them.
        """
        params = self._parameters(name, function)
        if params is None and args:
            return None, _dumps(self.value(dict(kwargs or {})))
        masked_args = []
        for index, arg in enumerate(args or ()):
            pname = params[index] if params is not None and index < len(params) else None
            masked_args.append(MASK if pname and pname.lower() in self.names else self.value(arg))
        masked_kwargs = self.value(dict(kwargs or {}))
        return _dumps(masked_args), _dumps(masked_kwargs)

    def text(self, value: Any) -> str | None:
        """A redacted JSON rendering of a result (clipped), or None."""
        if value is None:
            return None
        return clip(_dumps(self.value(value)))

    def _parameters(self, name: str, function: Callable[..., Any] | None) -> tuple[str, ...] | None:
        if name not in self._params:
            self._params[name] = positional_names(function) if function is not None else None
        return self._params[name]


def positional_names(function: Callable[..., Any]) -> tuple[str, ...] | None:
    """Names of the positional parameters of a task or function (None if unknown)."""
    target = getattr(function, "run", function)
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):
        return None
    names = [
        p.name
        for p in signature.parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    # A bound task's run() already has `self` removed by inspect.signature.
    return tuple(names)


def _dumps(value: Any) -> str:
    try:
        return json.dumps(value, default=repr, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError):
        return json.dumps(repr(value))
