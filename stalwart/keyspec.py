"""Keys computed from a task's arguments: ``idempotency_key``, ``limit_key``, unique keys.

A key is either a format string over the task's arguments by name (bound with the
task's signature, so positional and keyword calls agree) or a callable taking the
task's arguments (without ``self``) and returning a string::

    KeySpec.parse("idempotency_key", "sms:{campaign_id}:{contact_id}", send_sms, bound=True)
    KeySpec.parse("idempotency_key", lambda campaign_id, **_: f"c{campaign_id}", fun,
                  bound=False)   # the callable gets every argument by name
"""

from __future__ import annotations

import inspect
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from stalwart.errors import TaskOptionError

__all__ = ["KeySpec"]


@dataclass(frozen=True)
class KeySpec:
    """How to turn a call's arguments into a key string."""

    option: str
    template: str | None
    function: Callable[..., Any] | None
    signature: inspect.Signature

    @classmethod
    def parse(cls, option: str, value: object, fun: Callable[..., Any], *, bound: bool) -> KeySpec:
        """Validate ``value`` against ``fun``'s parameters (raises TaskOptionError)."""
        signature = inspect.signature(fun)
        if bound:
            params = list(signature.parameters.values())[1:]
            signature = signature.replace(parameters=params)
        if callable(value):
            return cls(option, None, value, signature)
        if not isinstance(value, str) or not value:
            raise TaskOptionError(
                f"{option} must be a format string such as 'sms:{{contact_id}}' or a "
                f"callable, not {value!r}"
            )
        names = set(signature.parameters)
        accepts_any = any(
            p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values()
        )
        for _, field, _, _ in string.Formatter().parse(value):
            if field is None:
                continue
            base = field.split(".", 1)[0].split("[", 1)[0]
            if not base or base.isdigit():
                raise TaskOptionError(
                    f"{option} {value!r}: use argument names in braces, not positions"
                )
            if base not in names and not accepts_any:
                raise TaskOptionError(
                    f"{option} {value!r} names {base!r}, which is not an argument of "
                    f"{fun.__name__}({', '.join(signature.parameters)})"
                )
        return cls(option, value, None, signature)

    def render(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str:
        """The key for one call.

        Arguments are bound to the task's signature first, so ``f(1, b=2)`` and
        ``f(a=1, b=2)`` give the same key; a callable receives them all by name.
        """
        bound = self.signature.bind_partial(*args, **kwargs)
        bound.apply_defaults()
        arguments = dict(bound.arguments)
        for param in self.signature.parameters.values():
            if param.kind is inspect.Parameter.VAR_KEYWORD:
                arguments.update(arguments.pop(param.name, {}))
        if self.function is not None:
            return str(self.function(**arguments))
        assert self.template is not None
        return self.template.format_map(arguments)
